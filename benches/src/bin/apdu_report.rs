//! Prints the APDU report: `cargo run -p md-benches --bin apdu-report`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match md_benches::report::all_rows() {
        Ok(rows) => {
            print!("{}", md_benches::report::table(&rows));
            let over: Vec<_> = rows.iter().filter(|r| r.apdus > r.budget).collect();
            if over.is_empty() {
                ExitCode::SUCCESS
            } else {
                for r in over {
                    eprintln!(
                        "over budget: {} on {}: {} APDUs (budget {})",
                        r.flow,
                        r.shape.title(),
                        r.apdus,
                        r.budget
                    );
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("apdu-report: {e}");
            ExitCode::FAILURE
        }
    }
}
