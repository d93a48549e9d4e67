//! The `warroom` binary. Everything, the command line included, is in the library
//! ([`warroom::cli`]), so the binary crate instantiates none of the bot's code a second time.

fn main() -> std::process::ExitCode {
    warroom::cli::main()
}
