//! Prints the face detector golden file of the project, computed with the published rustface 0.1.7:
//! `cargo run --release > ../../../tests/data/face_detector_golden.txt`.

#[path = "../../../../tests/support/face_golden.rs"]
mod face_golden;

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../..");
    let model = std::fs::read(format!("{root}/assets/seeta_fd_frontal_v1.0.bin")).unwrap();
    let jpeg = std::fs::read(format!("{root}/tests/data/astronaut.jpg")).unwrap();
    let mut detector = face_golden::detector(&model);
    print!("{}", face_golden::HEADER);
    for (name, img) in face_golden::images(&jpeg) {
        print!("{}", face_golden::render(detector.as_mut(), name, &img));
    }
}
