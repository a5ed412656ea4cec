//! Running states: one at a time ([`step`]) or from `StartAt` to the end
//! ([`run`]).

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tracing::debug;

use crate::context::StateContext;
use crate::definition::StateMachine;
use crate::errors::{NO_CHOICE_MATCHED, RUNTIME, StateError, TIMEOUT};
use crate::execution::{ExecutionContext, RunOptions, TaskInvoker, Transition};
use crate::processing;
use crate::retry;
use crate::state::{
    ChoiceState, FailState, Filters, Flow, PassState, State, TaskState, Text, WaitFor, WaitState,
};

/// Executes one state (including all its Retry attempts and Catch) and says
/// where to go.
///
/// A name that is not a state of `machine` fails with `States.Runtime`.
pub async fn step<I: TaskInvoker>(
    machine: &StateMachine,
    state: &str,
    input: Value,
    ctx: &ExecutionContext,
    invoker: &I,
    opts: &RunOptions,
) -> Transition {
    let Some(definition) = machine.state(state) else {
        return Transition::Failed {
            error: RUNTIME.to_owned(),
            cause: format!("the state machine has no state named {state:?}"),
        };
    };
    debug!(state, kind = definition.kind(), "entering state");
    let context = StateContext {
        execution: ctx,
        state,
        entered: SystemTime::now(),
        reads: machine.context_reads(state),
    };
    let transition = match definition {
        State::Pass(pass) => complete(pass_output(pass, input, &context.object(0)), &pass.flow),
        State::Task(task) => run_task(task, input, &context, invoker, opts).await,
        State::Choice(choice) => {
            choose(choice, input, &context.object(0)).unwrap_or_else(Into::into)
        }
        State::Wait(wait) => complete(
            wait_output(wait, input, &context.object(0), opts).await,
            &wait.flow,
        ),
        State::Succeed(filters) => match succeed_output(filters, input, &context.object(0)) {
            Ok(output) => Transition::Succeeded { output },
            Err(error) => error.into(),
        },
        State::Fail(fail) => fail_state(fail, &input, &context.object(0)),
    };
    match &transition {
        Transition::Next { state: next, .. } => debug!(state, next = %next, "leaving state"),
        Transition::Succeeded { .. } => debug!(state, "leaving state: execution succeeded"),
        Transition::Failed { error, cause } => {
            debug!(state, error = %error, cause = %cause, "leaving state: execution failed");
        }
    }
    transition
}

/// Convenience: runs from `StartAt` to the end, calling
/// `on_transition(state_name, &transition)` after each state.
pub async fn run<I: TaskInvoker>(
    machine: &StateMachine,
    input: Value,
    ctx: &ExecutionContext,
    invoker: &I,
    opts: &RunOptions,
    mut on_transition: impl FnMut(&str, &Transition) + Send,
) -> Transition {
    let mut state = machine.start_at().to_owned();
    let mut input = input;
    loop {
        let transition = step(machine, &state, input, ctx, invoker, opts).await;
        on_transition(&state, &transition);
        match transition {
            Transition::Next {
                state: next,
                output,
            } => {
                state = next;
                input = output;
            }
            finished => return finished,
        }
    }
}

/// Turns a state's output into a transition along its `Next`/`End`.
fn complete(output: Result<Value, StateError>, flow: &Flow) -> Transition {
    match (output, flow) {
        (Ok(output), Flow::Next(next)) => Transition::Next {
            state: next.clone(),
            output,
        },
        (Ok(output), Flow::End) => Transition::Succeeded { output },
        (Err(error), _) => error.into(),
    }
}

/// Pass: `InputPath` → `Parameters` → `Result` → `ResultPath` → `OutputPath`.
fn pass_output(pass: &PassState, raw: Value, context: &Value) -> Result<Value, StateError> {
    let effective = processing::input(&pass.filters, &raw, context)?;
    let effective = match &pass.parameters {
        Some(template) => template.evaluate(&effective, context)?,
        None => effective.into_owned(),
    };
    let result = pass.result.clone().unwrap_or(effective);
    let combined = processing::result_in_place(pass.result_path.as_ref(), raw, result)?;
    processing::output(&pass.filters, combined, context)
}

/// Task: every attempt with its retries, then `Catch` if it still fails.
async fn run_task<I: TaskInvoker>(
    task: &TaskState,
    raw: Value,
    context: &StateContext<'_>,
    invoker: &I,
    opts: &RunOptions,
) -> Transition {
    // Each retrier counts its own attempts; `retry_count` is the total the
    // context object reports.
    let mut attempts = vec![0_u32; task.retry.len()];
    let mut retry_count = 0_u32;
    loop {
        let object = context.object(retry_count);
        let error = match task_attempt(task, &raw, &object, invoker).await {
            Ok(result)
                if processing::cannot_fail(&task.filters, task.result_path.as_ref(), &raw) =>
            {
                // Nothing after the invocation can fail now, so no retry needs the input:
                // the result goes into it in place, uncopied.
                let combined = processing::result_in_place(task.result_path.as_ref(), raw, result);
                return complete(
                    combined.and_then(|c| processing::output(&task.filters, c, &object)),
                    &task.flow,
                );
            }
            Ok(result) => {
                match processing::result(task.result_path.as_ref(), &raw, result)
                    .and_then(|c| processing::output(&task.filters, c, &object))
                {
                    Ok(output) => return complete(Ok(output), &task.flow),
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };
        // Only the first matching retrier applies; once it is exhausted the
        // error goes to Catch, not to later retriers.
        let retrier = task
            .retry
            .iter()
            .position(|r| retry::matches(&r.error_equals, &error.error));
        if let Some(index) = retrier
            && attempts[index] < task.retry[index].max_attempts
        {
            let delay = retry::scale(
                task.retry[index].delay(attempts[index], retry::random_unit()),
                opts.interval_scale,
            );
            attempts[index] += 1;
            retry_count += 1;
            debug!(state = context.state, error = %error.error, retry_count, ?delay, "retrying task");
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            continue;
        }
        return catch(task, raw, error);
    }
}

/// One Task attempt up to its result: `InputPath` → `Parameters` → invoke →
/// `ResultSelector` (the caller applies `ResultPath` and `OutputPath`, whose failures are
/// the attempt's too).
async fn task_attempt<I: TaskInvoker>(
    task: &TaskState,
    raw: &Value,
    context: &Value,
    invoker: &I,
) -> Result<Value, StateError> {
    let effective = processing::input(&task.filters, raw, context)?;
    let payload = match &task.parameters {
        Some(template) => template.evaluate(&effective, context)?,
        None => effective.into_owned(),
    };
    let call = invoker.invoke(&task.resource, payload);
    let result = match task.timeout {
        // Dropping the future on timeout cancels the invocation.
        Some(limit) => tokio::time::timeout(limit, call).await.map_err(|_| {
            StateError::new(
                TIMEOUT,
                format!("the task did not finish within {} seconds", limit.as_secs()),
            )
        })?,
        None => call.await,
    }?;
    match &task.result_selector {
        Some(template) => template.evaluate(&result, context),
        None => Ok(result),
    }
}

/// The first catcher matching `error` sends `{"Error", "Cause"}`, placed in
/// the state's raw input at its `ResultPath`, to its `Next`.
fn catch(task: &TaskState, raw: Value, error: StateError) -> Transition {
    let Some(catcher) = task
        .catch
        .iter()
        .find(|c| retry::matches(&c.error_equals, &error.error))
    else {
        return error.into();
    };
    debug!(error = %error.error, next = %catcher.next, "caught task error");
    let error_output = json!({ "Error": error.error, "Cause": error.cause });
    match processing::result_in_place(catcher.result_path.as_ref(), raw, error_output) {
        Ok(output) => Transition::Next {
            state: catcher.next.clone(),
            output,
        },
        Err(error) => error.into(),
    }
}

/// Choice: the first rule that holds on the effective input picks `Next`.
fn choose(choice: &ChoiceState, raw: Value, context: &Value) -> Result<Transition, StateError> {
    let effective = processing::input_owned(&choice.filters, raw, context)?;
    let mut next = choice.default.as_ref();
    for rule in &choice.choices {
        if rule.condition.evaluate(&effective, context)? {
            next = Some(&rule.next);
            break;
        }
    }
    let next = next.ok_or_else(|| {
        StateError::new(
            NO_CHOICE_MATCHED,
            "no choice rule matched and there is no Default",
        )
    })?;
    Ok(Transition::Next {
        state: next.clone(),
        output: processing::output(&choice.filters, effective, context)?,
    })
}

/// Wait: `Seconds` or `SecondsPath`, scaled by `interval_scale`.
async fn wait_output(
    wait: &WaitState,
    raw: Value,
    context: &Value,
    opts: &RunOptions,
) -> Result<Value, StateError> {
    let effective = processing::input_owned(&wait.filters, raw, context)?;
    let seconds = match &wait.wait {
        WaitFor::Seconds(seconds) => u64::from(*seconds),
        WaitFor::SecondsPath(path) => path
            .select(&effective, context)
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                StateError::runtime(format!(
                    "SecondsPath {path} must select a non-negative integer"
                ))
            })?,
    };
    let delay = retry::scale(Duration::from_secs(seconds), opts.interval_scale);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    processing::output(&wait.filters, effective, context)
}

fn succeed_output(filters: &Filters, raw: Value, context: &Value) -> Result<Value, StateError> {
    let effective = processing::input_owned(filters, raw, context)?;
    processing::output(filters, effective, context)
}

/// Fail: `Error`/`Cause` as written or read with `ErrorPath`/`CausePath`;
/// a missing one is an empty string.
fn fail_state(fail: &FailState, raw: &Value, context: &Value) -> Transition {
    let text = |text: Option<&Text>| -> Result<String, StateError> {
        match text {
            None => Ok(String::new()),
            Some(Text::Literal(text)) => Ok(text.clone()),
            Some(Text::Computed(template)) => match template.evaluate(raw, context)? {
                Value::String(text) => Ok(text),
                other => Err(StateError::runtime(format!(
                    "ErrorPath and CausePath must select a string, got {other}"
                ))),
            },
        }
    };
    match (text(fail.error.as_ref()), text(fail.cause.as_ref())) {
        (Ok(error), Ok(cause)) => Transition::Failed { error, cause },
        (Err(error), _) | (_, Err(error)) => error.into(),
    }
}
