//! The "via Access Request profile" line: how an elevation that came through the AuthZEN
//! Access Request profile (issue 15) is shown wherever it is listed (the requester's page,
//! the approvers' inbox): the client, the claimed actor chain, the task, and the enforcement
//! point that submitted it.

use super::common::esc;
use crate::domain::ElevationId;
use crate::service::ProfileOrigin;

/// The line for elevation `id` that came as `origin` (its element id is `via-<id>`).
pub(crate) fn line(id: ElevationId, origin: &ProfileOrigin) -> String {
    let client = match (&origin.client_id, &origin.client_name) {
        (Some(client_id), Some(name)) => format!("<code>{}</code> ({})", esc(client_id), esc(name)),
        (Some(client_id), None) => format!("<code>{}</code>", esc(client_id)),
        (None, Some(name)) => esc(name),
        (None, None) => "unnamed".to_owned(),
    };
    let actors = if origin.actor_chain.is_empty() {
        "none claimed".to_owned()
    } else {
        origin
            .actor_chain
            .iter()
            .map(esc)
            .collect::<Vec<_>>()
            .join(" → ")
    };
    format!(
        "<div class=\"via-profile muted\" id=\"via-{id}\">via Access Request profile: \
         client <span class=\"client\">{client}</span> · actor chain <span class=\"actors\">{actors}</span> · \
         task <code class=\"task\">{task}</code> · submitted by <code>{pep}</code></div>",
        task = esc(&origin.task_id),
        pep = esc(&origin.submitted_by),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Subject;

    fn origin(client_id: Option<&str>, actors: &[&str]) -> ProfileOrigin {
        ProfileOrigin {
            task_id: "arq_1".into(),
            submitted_by: Subject::parse("todo-pep").expect("a valid subject"),
            client_id: client_id.map(str::to_owned),
            client_name: None,
            actor_chain: actors.iter().map(|actor| (*actor).to_owned()).collect(),
        }
    }

    #[test]
    fn the_line_names_client_actors_task_and_pep_and_escapes_them() {
        let id = ElevationId::generate();
        let shown = line(id, &origin(Some("<todo>"), &["gateway (service)", "jerry"]));
        assert!(shown.contains(&format!("id=\"via-{id}\"")), "{shown}");
        assert!(shown.contains("<code>&lt;todo&gt;</code>"), "{shown}");
        assert!(shown.contains("gateway (service) → jerry"), "{shown}");
        assert!(
            shown.contains("arq_1") && shown.contains("todo-pep"),
            "{shown}"
        );
    }

    #[test]
    fn a_request_without_client_or_actors_says_so() {
        let shown = line(ElevationId::generate(), &origin(None, &[]));
        assert!(
            shown.contains("client <span class=\"client\">unnamed</span>"),
            "{shown}"
        );
        assert!(shown.contains("none claimed"), "{shown}");
    }
}
