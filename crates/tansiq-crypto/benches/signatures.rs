//! Cost of Ed25519 signing and verification per signature, one core.
//!
//! ```sh
//! cargo bench -p tansiq-crypto --bench signatures
//! ```
//! Prints microseconds of this thread's CPU time per signature (median of
//! 5 rounds of 4,096 signatures over ~400-byte messages) for signing, one
//! by one `verify` (strict), and batch verification of items signed by one
//! key (the common case: a peer's batch of records from one originator) and
//! by 16 keys.

use tansiq_crypto::{verify, verify_batch, BatchItem, Identity};

fn thread_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn per_item(n: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..5)
        .map(|_| {
            let c = thread_cpu_s();
            f();
            (thread_cpu_s() - c) * 1e6 / n as f64
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[2]
}

fn main() {
    const N: usize = 4096;
    const CTX: &str = "tansiq/bench/v1";
    let ids: Vec<Identity> = (0..16).map(|_| Identity::generate()).collect();
    let msgs: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("{{\"id\":\"record {i}\",\"data\":\"{}\"}}", "x".repeat(380)).into_bytes())
        .collect();
    let sign = per_item(N, || {
        for m in &msgs {
            std::hint::black_box(ids[0].sign(CTX, m));
        }
    });
    let signed = |keys: usize| -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
        msgs.iter()
            .enumerate()
            .map(|(i, m)| {
                let id = &ids[i % keys];
                (id.signing_public(), m.clone(), id.sign(CTX, m))
            })
            .collect()
    };
    let one = signed(1);
    let sixteen = signed(16);
    let single = per_item(N, || {
        for (pk, m, s) in &one {
            verify(pk, CTX, m, s).unwrap();
        }
    });
    let batch = |set: &[([u8; 32], Vec<u8>, [u8; 64])]| {
        let items: Vec<BatchItem<'_>> = set
            .iter()
            .map(|(pk, m, s)| (pk, CTX, m.as_slice(), s))
            .collect();
        per_item(N, || verify_batch(&items).unwrap())
    };
    let batch_one = batch(&one);
    let batch_sixteen = batch(&sixteen);
    println!("ed25519 µs per signature (thread CPU, median of 5 × {N}):");
    println!("  sign                          {sign:6.1}");
    println!("  verify one by one (strict)    {single:6.1}");
    println!(
        "  verify_batch, one key         {batch_one:6.1}  ({:.2}× faster)",
        single / batch_one
    );
    println!(
        "  verify_batch, 16 keys         {batch_sixteen:6.1}  ({:.2}× faster)",
        single / batch_sixteen
    );
}
