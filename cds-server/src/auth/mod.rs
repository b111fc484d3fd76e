//! CDS Hooks client authentication (JWT, JWKS), being built.
