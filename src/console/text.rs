//! The console's own words, in the agent's language (es, pt, en). User text is never here: it is shown as sent.

/// The languages an agent may pick; the first is the default.
pub const LANGUAGES: [&str; 3] = ["es", "pt", "en"];

/// The agent's language from the `wao_lang` cookie, else Spanish.
pub fn from_headers(headers: &axum::http::HeaderMap) -> &'static str {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("wao_lang="))
        .find_map(|lang| LANGUAGES.iter().find(|l| **l == lang).copied())
        .unwrap_or(LANGUAGES[0])
}

/// `key` in `lang`; an unknown key shows itself (a missing text is visible, not blank).
pub fn t(lang: &str, key: &'static str) -> &'static str {
    let (es, pt, en) = match key {
        "title" => ("Consola de verificación", "Console de verificação", "Verification console"),
        "sign_in" => ("Iniciar sesión", "Entrar", "Sign in"),
        "sign_out" => ("Cerrar sesión", "Sair", "Sign out"),
        "email" => ("Correo", "E-mail", "Email"),
        "password" => ("Contraseña", "Senha", "Password"),
        "queue" => ("Fila", "Fila", "Queue"),
        "waiting" => ("En espera", "Aguardando", "Waiting"),
        "assigned" => ("Asignados", "Atribuídos", "Assigned"),
        "resolved" => ("Resueltos", "Resolvidos", "Resolved"),
        "returned" => ("Devueltos al bot", "Devolvidos ao bot", "Returned to the bot"),
        "withdrawn" => ("Retirados", "Desistências", "Withdrawn"),
        "status_waiting" => ("En espera", "Aguardando", "Waiting"),
        "status_assigned" => ("Asignado", "Atribuído", "Assigned"),
        "status_resolved" => ("Resuelto", "Resolvido", "Resolved"),
        "status_returned" => ("Devuelto al bot", "Devolvido ao bot", "Returned to the bot"),
        "status_withdrawn" => ("Retirado por la persona", "Desistência da pessoa", "Withdrawn by the user"),
        "take_next" => ("Tomar el siguiente", "Pegar o próximo", "Take next"),
        "take" => ("Tomar", "Pegar", "Take"),
        "my_cases" => ("Mis casos", "Meus casos", "My cases"),
        "all_assigned" => ("Casos asignados", "Casos atribuídos", "Assigned cases"),
        "nobody_waiting" => ("Nadie espera ahora.", "Ninguém aguardando agora.", "Nobody is waiting."),
        "no_cases" => ("Sin casos.", "Nenhum caso.", "No cases."),
        "reason" => ("Motivo", "Motivo", "Reason"),
        "waited" => ("Espera", "Espera", "Waiting for"),
        "language" => ("Idioma", "Idioma", "Language"),
        "document" => ("Documento", "Documento", "Document"),
        "attempts" => ("Intentos", "Tentativas", "Attempts"),
        "person" => ("Persona", "Pessoa", "Person"),
        "step" => ("Paso", "Etapa", "Step"),
        "status" => ("Estado", "Status", "Status"),
        "held_by" => ("Atiende", "Atendido por", "Held by"),
        "opened" => ("Abierto", "Aberto", "Opened"),
        "timeline" => ("Historial", "Histórico", "Timeline"),
        "photos" => ("Fotos", "Fotos", "Photos"),
        "no_photos" => ("Sin fotos.", "Sem fotos.", "No photos."),
        "message" => ("Mensaje para la persona", "Mensagem para a pessoa", "Message to the person"),
        "send" => ("Enviar por WhatsApp", "Enviar pelo WhatsApp", "Send on WhatsApp"),
        "window_closed" => (
            "La ventana de 24 horas de WhatsApp se cerró: un mensaje libre ya no llega.",
            "A janela de 24 horas do WhatsApp fechou: uma mensagem livre não chega mais.",
            "WhatsApp's 24-hour window has closed: a free-form message no longer reaches them.",
        ),
        "send_template" => (
            "Enviar la plantilla de reactivación",
            "Enviar o modelo de reengajamento",
            "Send the re-engagement template",
        ),
        "no_template" => (
            "No hay plantilla de reactivación configurada (WHATSAPP_REENGAGE_TEMPLATE).",
            "Nenhum modelo de reengajamento configurado (WHATSAPP_REENGAGE_TEMPLATE).",
            "No re-engagement template is configured (WHATSAPP_REENGAGE_TEMPLATE).",
        ),
        "decide" => ("Decidir", "Decidir", "Decide"),
        "approve" => ("Aprobar", "Aprovar", "Approve"),
        "reject" => ("Rechazar", "Recusar", "Reject"),
        "retake" => ("Pedir otra foto", "Pedir outra foto", "Ask for a retake"),
        "return" => ("Devolver al bot", "Devolver ao bot", "Return to the bot"),
        "at_step" => ("en el paso", "na etapa", "at step"),
        "where_it_is" => ("donde está", "onde está", "where it is"),
        "front" => ("Frente", "Frente", "Front"),
        "back" => ("Reverso", "Verso", "Back"),
        "selfie" => ("Selfie", "Selfie", "Selfie"),
        "reassign" => ("Reasignar a", "Reatribuir a", "Reassign to"),
        "take_it_first" => (
            "Toma el caso para escribir y decidir.",
            "Pegue o caso para escrever e decidir.",
            "Take the case to write and decide.",
        ),
        "held_by_other" => (
            "Otra persona atiende este caso.",
            "Outra pessoa está atendendo este caso.",
            "Someone else holds this case.",
        ),
        "closed" => ("Caso cerrado", "Caso encerrado", "Case closed"),
        "back_to_queue" => ("Volver a la fila", "Voltar à fila", "Back to the queue"),
        "live" => ("Se actualiza solo", "Atualiza sozinho", "Updates live"),
        "user" => ("Persona", "Pessoa", "User"),
        "bot" => ("Bot", "Bot", "Bot"),
        "agent" => ("Agente", "Agente", "Agent"),
        "verifier" => ("Verificación", "Verificação", "Checks"),
        "system" => ("Sistema", "Sistema", "System"),
        "queued" => ("en cola", "na fila", "queued"),
        "sent" => ("enviado", "enviado", "sent"),
        "delivered" => ("entregado", "entregue", "delivered"),
        "read" => ("leído", "lido", "read"),
        "failed" => ("falló", "falhou", "failed"),
        "view_full" => ("Ver en grande", "Ver ampliada", "View full size"),
        "signed_in_as" => ("Sesión de", "Sessão de", "Signed in as"),
        "minutes" => ("min", "min", "min"),
        "funnel" => ("Embudo", "Funil", "Funnel"),
        "all_flows" => ("todos los flujos", "todos os fluxos", "all flows"),
        "last_24h" => ("Últimas 24 h", "Últimas 24 h", "Last 24 h"),
        "last_7d" => ("Últimos 7 días", "Últimos 7 dias", "Last 7 days"),
        "last_30d" => ("Últimos 30 días", "Últimos 30 dias", "Last 30 days"),
        "last_90d" => ("Últimos 90 días", "Últimos 90 dias", "Last 90 days"),
        "download_csv" => ("Descargar CSV", "Baixar CSV", "Download CSV"),
        "started" => ("Iniciaron", "Iniciaram", "Started"),
        "verified_ratio" => {
            ("Verificados (de los terminados)", "Verificados (dos encerrados)", "Verified (of those ended)")
        }
        "handoff_rate" => ("Pasaron a una persona", "Passaram para uma pessoa", "Handed to a person"),
        "median_time" => ("Mediana hasta el resultado", "Mediana até o resultado", "Median time to outcome"),
        "steps" => ("Pasos", "Etapas", "Steps"),
        "reached" => ("Llegaron", "Chegaram", "Reached"),
        "left_here" => ("Se fueron aquí", "Saíram aqui", "Left here"),
        "here_now" => ("Aquí ahora", "Aqui agora", "Here now"),
        "conversion" => ("Siguieron", "Seguiram", "Went on"),
        "outcomes" => ("Resultados", "Resultados", "Outcomes"),
        "time_to_outcome" => ("Tiempo hasta el resultado", "Tempo até o resultado", "Time to outcome"),
        "count" => ("Cantidad", "Quantidade", "Count"),
        "active" => ("activo", "ativo", "active"),
        "retakes" => ("Fotos pedidas de nuevo", "Fotos pedidas de novo", "Retakes"),
        "handoffs" => ("Pasos a una persona", "Passagens para uma pessoa", "Handoffs"),
        "queue_levels" => ("Nivel de servicio de la fila", "Nível de serviço da fila", "Queue service level"),
        "oldest_waiting" => ("Espera más larga", "Espera mais longa", "Oldest waiting"),
        "taken" => ("Tomados en el periodo", "Pegos no período", "Taken in the period"),
        "time_to_assignment" => ("Hasta ser tomado", "Até ser pego", "Time to assignment"),
        "within_target" => ("Tomados en 30 min", "Pegos em 30 min", "Taken within 30 min"),
        "agents" => ("Agentes", "Agentes", "Agents"),
        "decisions" => ("Decisiones", "Decisões", "Decisions"),
        "handling" => ("Atención", "Atendimento", "Handling"),
        "none" => ("Ninguno.", "Nenhum.", "None."),
        "by_version" => ("Por versión del flujo", "Por versão do fluxo", "By flow version"),
        "by_country" => ("Por país del documento", "Por país do documento", "By the document's country"),
        "by_document" => ("Por documento", "Por documento", "By document"),
        "ended" => ("Terminaron", "Encerraram", "Ended"),
        "verified" => ("Verificados", "Verificados", "Verified"),
        "supervisors_only" => ("Solo para supervisores.", "Somente para supervisores.", "Supervisors only."),
        _ => (key, key, key),
    };
    match lang {
        "pt" => pt,
        "en" => en,
        _ => es,
    }
}

/// A rejection reason, worded for the agent.
pub fn reject_reason(lang: &str, code: &str) -> String {
    let (es, pt, en) = match code {
        "document_invalid" => ("Documento no válido", "Documento inválido", "Document not valid"),
        "document_expired" => ("Documento vencido", "Documento vencido", "Document expired"),
        "document_unreadable" => ("Documento ilegible", "Documento ilegível", "Document unreadable"),
        "face_mismatch" => ("El rostro no coincide", "O rosto não confere", "Face does not match"),
        "data_mismatch" => ("Los datos no coinciden", "Os dados não conferem", "Data does not match"),
        "underage" => ("Menor de edad", "Menor de idade", "Under age"),
        "suspected_fraud" => ("Sospecha de fraude", "Suspeita de fraude", "Suspected fraud"),
        "duplicate_application" => ("Solicitud duplicada", "Pedido duplicado", "Duplicate application"),
        "other" => ("Otro motivo", "Outro motivo", "Other"),
        other => (other, other, other),
    };
    match lang {
        "pt" => pt,
        "en" => en,
        _ => es,
    }
    .to_owned()
}
