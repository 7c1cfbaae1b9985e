//! tansiq-lists
