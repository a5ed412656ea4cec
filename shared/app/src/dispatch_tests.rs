//! Dispatch against the definitions and the template: each task function is a placeholder of
//! its own state machine's definition (and of no other), and the template wires it to the
//! function's own Lambda.

use super::*;

const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The `${...FunctionArn}` placeholders of a definition.
fn function_placeholders(definition: &str) -> Vec<String> {
    definition
        .split("\"${")
        .skip(1)
        .map(|part| part.split('}').next().unwrap_or_default().to_owned())
        .filter(|p| p.ends_with("FunctionArn"))
        .collect()
}

/// Every task function is a placeholder of its own definition, and the template wires that
/// placeholder to the function's own Lambda, deployed under the function's name.
#[test]
fn every_task_function_is_named_alike_in_its_definition_and_the_template() {
    for f in TaskFunction::ALL {
        let placeholder = f.arn_placeholder();
        assert!(
            f.workflow()
                .definition()
                .contains(&format!("\"${{{placeholder}}}\"")),
            "{placeholder} is not in {}",
            f.workflow().definition_path()
        );
        assert!(
            TEMPLATE.contains(&format!("{placeholder}: !GetAtt {}Lambda.Arn", f.name())),
            "the template does not substitute {placeholder}"
        );
        assert!(
            TEMPLATE.contains(&format!("${{AWS::StackName}}-{}\"", f.function_name())),
            "the template deploys no function named {}",
            f.function_name()
        );
    }
}

/// Each definition calls exactly the task functions dispatch gives its state machine: none of
/// another state machine's, none that dispatch does not know.
#[test]
fn each_definition_invokes_exactly_its_own_task_functions() {
    for w in Workflow::ALL {
        let mut invoked = function_placeholders(w.definition());
        invoked.sort();
        invoked.dedup();
        let mut own: Vec<String> = w.tasks().map(TaskFunction::arn_placeholder).collect();
        own.sort();
        assert_eq!(invoked, own, "{}", w.definition_path());
    }
}

#[test]
fn a_task_function_is_found_by_either_of_its_names() {
    for f in TaskFunction::ALL {
        assert_eq!(TaskFunction::from_name(f.name()), Some(f));
        assert_eq!(TaskFunction::from_function_name(f.function_name()), Some(f));
    }
    assert_eq!(TaskFunction::from_name("validate-order"), None);
    assert_eq!(TaskFunction::from_name("Refund"), None);
    assert_eq!(TaskFunction::from_function_name("ProcessRefund"), None);
}

#[test]
fn a_state_machine_is_found_by_its_name_and_its_definition_names_it() {
    for w in Workflow::ALL {
        assert_eq!(Workflow::from_name(w.name()), Some(w));
        let definition: Value = serde_json::from_str(w.definition()).unwrap();
        let comment = definition["Comment"].as_str().unwrap_or_default();
        assert!(comment.starts_with(w.name()), "{comment}");
        assert!(
            TEMPLATE.contains(&format!(
                "  {}:\n    Type: AWS::StepFunctions::StateMachine",
                w.name()
            )),
            "the template deploys no {}",
            w.name()
        );
    }
    assert_eq!(Workflow::from_name("RefundProcessing"), None);
}
