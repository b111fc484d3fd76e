//! FHIR dates, date-times and times with partial precision.
