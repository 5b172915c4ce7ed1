-- Issue 13: the Pro plan through Stripe Billing, and Hookvault's own Stripe webhook.

-- The Stripe customer of an account (set by `checkout.session.completed`), and a grace period
-- after a failed payment: the account keeps its plan until `billing_grace_until`, then moves
-- to free. `billing_grace_created` is the `created` of the payment failure that started it, so
-- an older `invoice.paid` arriving late does not end a newer grace period.
ALTER TABLE users
    ADD COLUMN stripe_customer_id text,
    ADD COLUMN billing_grace_until timestamptz,
    ADD COLUMN billing_grace_created bigint;
CREATE UNIQUE INDEX users_stripe_customer_idx ON users (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;

-- The inbox of the billing webhook. An event id is recorded here, under a unique key, before
-- anything else happens: a redelivery finds it and changes nothing. Each row is also the
-- durable job that applies the event: claimed with FOR UPDATE SKIP LOCKED (claiming pushes
-- `next_attempt_at` a lease ahead, so no transaction is held during Stripe calls), retried with
-- backoff on failure, shown to operators by `hookvault admin billing-events`.
-- `payload` is the verified event JSON; it is cleared when the account it names is deleted
-- (the id stays, so a redelivery is still recognized).
CREATE TABLE billing_events (
    event_id        text NOT NULL,
    type            text NOT NULL,
    created         bigint NOT NULL,
    payload         jsonb,
    user_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'done', 'ignored', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    outcome         text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT billing_events_event_id_key UNIQUE (event_id)
);
CREATE INDEX billing_events_due_idx ON billing_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX billing_events_received_idx ON billing_events (received_at);
CREATE INDEX billing_events_user_idx ON billing_events (user_id) WHERE user_id IS NOT NULL;

-- The subscriptions Hookvault knows, with the `created` of the newest event applied to each:
-- an event is applied only when it is newer, so an older `customer.subscription.updated`
-- arriving after `customer.subscription.deleted` changes nothing.
CREATE TABLE billing_subscriptions (
    subscription_id    text PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    customer_id        text,
    status             text NOT NULL,
    last_event_created bigint NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_subscriptions_user_idx ON billing_subscriptions (user_id);
