// mimalloc: the broker's hot path allocates and frees many small objects per request (futures,
// header maps, body frames); glibc's malloc spent about a tenth of the gateway's CPU time on
// them under load (notes/bench-16.md in the steering notes has the profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
