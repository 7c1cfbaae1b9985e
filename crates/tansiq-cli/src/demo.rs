pub fn run(_dir: &std::path::Path) -> crate::cli::CliResult {
    Ok(())
}
