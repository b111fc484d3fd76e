//! UCUM units and quantities: parsing, comparison and conversion.
