//! Every flow of the APDU report stays within its budget (a count, never a time), and never
//! below its physical minimum (which would mean the minimum is derived wrong).
#![allow(clippy::unwrap_used, reason = "test code")]

#[test]
fn every_flow_is_within_its_budget() {
    let rows = md_benches::report::all_rows().unwrap();
    println!("{}", md_benches::report::table(&rows));
    for r in &rows {
        assert!(r.apdus <= r.budget, "{} on {}: {} APDUs, budget {}", r.flow, r.shape.title(), r.apdus, r.budget);
        assert!(
            r.minimum <= r.apdus,
            "{} on {}: minimum {} above the count {}",
            r.flow,
            r.shape.title(),
            r.minimum,
            r.apdus
        );
        if let Some(opensc) = r.opensc {
            assert!(r.apdus < opensc, "{} on {}: {} APDUs, OpenSC {opensc}", r.flow, r.shape.title(), r.apdus);
        }
    }
    assert_eq!(rows.len(), 29, "every flow on every card shape");
}
