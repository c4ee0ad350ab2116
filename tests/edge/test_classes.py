import pytest

from auroral.edge.classes import ALPHABETICAL, CLASSES, canonical_label
from auroral.edge.errors import UserError


def test_the_seven_classes_in_the_contract_order():
    assert CLASSES == ("breakup", "colored", "arcs", "discrete", "patchy", "edge", "faint")
    assert ALPHABETICAL[:3] == ("arcs", "breakup", "colored")


@pytest.mark.parametrize("name, expected", [("Arcs", "arcs"), ("arcs-bands", "arcs"), ("Clear_Faint", "faint"),
                                            ("BREAKUP", "breakup"), ("coloured", "colored")])
def test_aliases_and_case(name, expected):
    assert canonical_label(name) == expected


def test_unknown_class_names_the_choices():
    with pytest.raises(UserError, match="unknown class 'clouds'.*breakup, colored"):
        canonical_label("clouds")
