//! `report.html`: a self-contained page of a [`Summary`](crate::summary::Summary).
