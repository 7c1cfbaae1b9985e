//! tansiq-node
