-- Message templates, versioned, and which template version each message was written from.

-- A template's current version lives in templates; every version ever saved, the first included,
-- is kept in template_versions so a message keeps pointing at the text it was rendered from.
-- A deleted template is archived (its versions stay); its name is free again.
ALTER TABLE templates ADD COLUMN version INT NOT NULL DEFAULT 1;
ALTER TABLE templates ADD COLUMN archived_at TIMESTAMPTZ;
ALTER TABLE templates ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';
ALTER TABLE templates DROP CONSTRAINT templates_portal_id_name_key;
CREATE UNIQUE INDEX templates_portal_name ON templates (portal_id, lower(name)) WHERE archived_at IS NULL;

CREATE TABLE template_versions (
    template_id  UUID NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    version      INT NOT NULL,
    name         TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',  -- the HubSpot user id who saved it, when known
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);
INSERT INTO template_versions (template_id, version, name, body, created_at)
SELECT id, version, name, body, updated_at FROM templates;

-- The template version a message's text came from, recorded when the API accepts the message
-- (before its workflow starts), so a retried request resolves the same version.
CREATE TABLE message_templates (
    message_id        UUID PRIMARY KEY,
    portal_id         BIGINT NOT NULL,
    template_id       UUID NOT NULL,
    template_version  INT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX message_templates_template ON message_templates (template_id, template_version);
