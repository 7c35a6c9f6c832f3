//! `cargo run -p notes`: the notes app on :8000, on `notes.sqlite` in the
//! working directory unless `ROCKET_DATABASES` or `Rocket.toml` says otherwise.

#[rocket::launch]
fn rocket() -> _ {
    notes::rocket(notes::figment())
}
