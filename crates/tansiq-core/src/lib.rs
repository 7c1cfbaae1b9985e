//! tansiq-core
