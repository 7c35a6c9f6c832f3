#[rocket::main]
async fn main() -> std::process::ExitCode {
    match wristband::rocket().launch().await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Rocket has already logged the cause (bad config, unreachable
            // database); end with one line and a failing status, not a panic.
            eprintln!("wristband did not start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
