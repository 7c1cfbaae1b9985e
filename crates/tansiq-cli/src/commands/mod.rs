//! The commands, one module per feature. Each module holds its clap
//! subcommands and the functions that run them: parse and check the
//! arguments, call one service of `tansiq_node::Node` as the operator,
//! print the result (text, or JSON with --json).

pub mod audit;
pub mod bundles;
pub mod channels;
pub mod hits;
pub mod incidents;
pub mod interop;
pub mod lists;
pub mod messages;
pub mod node;
pub mod peers;
pub mod records;
pub mod releases;
pub mod screen_out;
pub mod shell;
pub mod store;
pub mod sync;
pub mod users;
