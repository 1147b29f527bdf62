// mimalloc: the broker's hot path allocates and frees many small objects per request (futures,
// header maps, body frames); under `scripts/bench-broker.sh` glibc's malloc and free took about an
// eighth of the gateway's CPU samples, mimalloc about half of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
