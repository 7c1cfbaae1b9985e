//! Prints a STIX bundle of sample records of every kind (a listed person
//! with Arabic names, links, a Europol evaluation, a retraction, each TLP
//! level) for `scripts/stix-validate` to check with the OASIS validator.

#[allow(dead_code)]
#[path = "../src/samples.rs"]
mod samples;

use tansiq_core::handling::Tlp;

fn main() {
    let mut bodies = samples::samples();
    for (b, t) in bodies.iter_mut().zip(Tlp::ALL.into_iter().cycle()) {
        b.handling.tlp = t;
    }
    bodies[1].handling.evaluation = Some("B2".parse().expect("an Admiralty code"));
    let mut retracted = samples::retraction();
    retracted.id = "rec_01a2407f15fa00000020.tqmfrggzdfmztwq2lk".into();
    bodies.push(retracted);
    let (bundle, _) = tansiq_stix::bundle(&bodies, &samples::kinds);
    println!("{}", serde_json::to_string_pretty(&bundle).expect("JSON"));
}
