-- order-pipeline embedded schema, version 5: the runner's executions belong to one of two state
-- machines (OrderProcessingStateMachine, named by the order id; RefundProcessingStateMachine,
-- named by the refund id), so a restart resumes each on its own definition. Executions from
-- before this version are all the order workflow's.
ALTER TABLE executions
    ADD COLUMN state_machine TEXT NOT NULL DEFAULT 'OrderProcessingStateMachine';
