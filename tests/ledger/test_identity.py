"""Who gave: normal forms and the keys that make two gifts one donor."""

import pytest

from ledger.errors import InvalidInputError
from ledger.identity import DonorDetails


@pytest.mark.parametrize(
    "phone",
    ["+39 333 123 4567", "(+39) 333 1234567", "0039-333-1234567", "333.1234567", "3331234567"],
)
def test_italian_phone_forms_are_one_number(phone: str) -> None:
    assert DonorDetails.parse(phone=phone).phone == "+393331234567"


def test_email_case_and_spaces_do_not_matter() -> None:
    one = DonorDetails.parse(email=" Mario.Rossi@Example.org ")
    other = DonorDetails.parse(email="mario.rossi@example.org")
    assert one.identity_keys() == other.identity_keys() == ("email:mario.rossi@example.org",)


def test_tax_codes_are_upper_cased_and_check_digit_verified() -> None:
    assert DonorDetails.parse(tax_code=" clmmra43a53d150k ").tax_code == "CLMMRA43A53D150K"
    with pytest.raises(InvalidInputError) as bad:
        DonorDetails.parse(tax_code="CLMMRA43A53D150X")
    assert "tax_code" in bad.value.fields


def test_partita_iva_with_a_valid_check_digit_is_accepted() -> None:
    assert DonorDetails.parse(tax_code="00743110157").tax_code == "00743110157"
    with pytest.raises(InvalidInputError):
        DonorDetails.parse(tax_code="00743110158")


def test_a_name_alone_does_not_identify() -> None:
    assert not DonorDetails.parse(first_name="Anna", last_name="Bianchi").is_identified
    assert not DonorDetails.parse(last_name="Bianchi", address="Via Roma 1").is_identified


def test_postal_address_with_postcode_identifies_with_the_surname() -> None:
    details = DonorDetails.parse(last_name="De  Luca", address="Via  Roma 1", postcode="26100")
    assert details.is_identified
    assert details.identity_keys() == ("address:de luca|via roma 1|26100",)


def test_organisation_replaces_the_surname_in_the_address_key() -> None:
    details = DonorDetails.parse(
        organization="Coop Sociale Il Ponte",
        last_name="Rossi",
        address="Via Po 2",
        postcode="26013",
    )
    assert details.identity_keys() == ("address:coop sociale il ponte|via po 2|26013",)


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidInputError) as bad:
        DonorDetails.parse(email="not-an-address", phone="12", tax_code="XYZ")
    assert set(bad.value.fields) == {"email", "phone", "tax_code"}
