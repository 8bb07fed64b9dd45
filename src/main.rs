fn main() -> std::process::ExitCode {
    wharf::main()
}
