//! tansiq-crypto
