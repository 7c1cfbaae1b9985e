//! tansiq-store
