//! `wa-onboard demo`, as a product person runs it: two chats printed as a transcript, one user verified, the
//! other told about the blur each time and handed to a person (who will write in the chat) after the third blurry
//! photo.

use std::process::Command;

#[test]
fn the_demo_prints_a_verified_chat_and_a_blurry_chat_that_ends_with_a_person() {
    let output = Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .arg("demo")
        .env_remove("REDIS_URL")
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "demo failed: {}", String::from_utf8_lossy(&output.stderr));
    let transcript = String::from_utf8_lossy(&output.stdout);
    let (first, second) = transcript.split_once("── Bruno").expect("two chats, Ana's then Bruno's");

    assert!(first.contains("verificamos tu identidad"), "Ana is verified:\n{first}");
    assert!(!first.contains("asesor"), "Ana needs no agent:\n{first}");

    let blur_advice = "Tu foto salió borrosa";
    let blurry_photos = second.matches("[photo: passport photo page").count();
    assert_eq!(blurry_photos, 3, "Bruno sends the photo three times:\n{second}");
    assert_eq!(second.matches(blur_advice).count(), 2, "blur advice after the first two:\n{second}");
    let handoff = second.lines().skip_while(|l| !l.contains(blur_advice)).find(|l| l.contains("te escribirá aquí"));
    assert!(handoff.is_some(), "the third failure hands Bruno to a person, who will write in the chat:\n{second}");
    assert!(!second.contains("verificamos tu identidad"), "Bruno is not verified:\n{second}");
}
