//! `wa-onboard demo`, as a product person runs it: two chats printed as a transcript. One user's sharp photos go to
//! a person (no provider compares faces in the default flow) and are approved by a scripted agent before the user
//! is told they are verified; the other is told about the blur at once each time and handed to a person (who will
//! write in the chat) after the third blurry photo.

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

    // Nothing checked Ana's face automatically: she is told a person will confirm her photos, and only after the
    // agent's approval that she is verified.
    let review = first.find("Recibimos tus fotos").unwrap_or_else(|| panic!("Ana's photos go to a person:\n{first}"));
    let verified =
        first.find("verificamos tu identidad").unwrap_or_else(|| panic!("Ana is verified by a person:\n{first}"));
    assert!(review < verified, "review before verified:\n{first}");
    assert_eq!(first.matches("verificamos tu identidad").count(), 1, "{first}");

    let blur_advice = "Tu foto salió borrosa";
    let blurry_photos = second.matches("[photo: passport photo page").count();
    assert_eq!(blurry_photos, 3, "Bruno sends the photo three times:\n{second}");
    assert_eq!(second.matches(blur_advice).count(), 2, "blur advice after the first two:\n{second}");
    assert!(!second.contains("una *selfie*"), "the selfie is never asked for while the front is blurry:\n{second}");
    let handoff = second.lines().skip_while(|l| !l.contains(blur_advice)).find(|l| l.contains("te escribirá aquí"));
    assert!(handoff.is_some(), "the third failure hands Bruno to a person, who will write in the chat:\n{second}");
    assert!(!second.contains("verificamos tu identidad"), "Bruno is not verified:\n{second}");
}
