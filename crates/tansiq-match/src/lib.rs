//! tansiq-match
