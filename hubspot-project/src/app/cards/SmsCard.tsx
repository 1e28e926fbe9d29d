// The SMS card of contacts, companies and deals: the record's last messages, a composer that
// sends one SMS with the workflow action's options, and the account's templates.
import { useCallback, useEffect, useMemo, useState } from 'react';
import {
  Alert,
  Button,
  ButtonRow,
  Checkbox,
  DateInput,
  Divider,
  EmptyState,
  ErrorState,
  Flex,
  Input,
  Link,
  LoadingButton,
  LoadingSpinner,
  Select,
  StatusTag,
  Tab,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Tabs,
  Text,
  TextArea,
  TimeInput,
  hubspot,
  useDebounce,
} from '@hubspot/ui-extensions';
import type { CrmContext, ExtensionPointApiActions } from '@hubspot/ui-extensions';
import { useCrmProperties } from '@hubspot/ui-extensions/crm';

import { Api, ApiError, newClientId } from './api.ts';
import type { CardMessage, PreviewResult, Sender, Template } from './api.ts';
import { personalize, sendAtISO, statusLabel, statusVariant } from './format.ts';
import type { DateParts, TimeParts } from './format.ts';

interface CardProps {
  context: CrmContext;
  actions: ExtensionPointApiActions<'crm.record.tab'>;
}

hubspot.extend<'crm.record.tab'>(({ context, actions }: CardProps) => (
  <SmsCard context={context} actions={actions} />
));

/** The record's properties the composer reads: phones and the usual tokens. */
const RECORD_PROPERTIES = ['mobilephone', 'phone', 'firstname', 'lastname', 'company', 'email', 'city'];

function SmsCard({ context, actions }: CardProps) {
  const base = context.variables?.PUBLIC_BASE_URL;
  const api = useMemo(() => (typeof base === 'string' && base ? new Api(base) : null), [base]);
  const objectType = context.crm.objectTypeId;
  const objectId = String(context.crm.objectId);
  const [tab, setTab] = useState<string>('messages');
  const [refresh, setRefresh] = useState(0);

  if (!api) {
    return (
      <ErrorState title="The SMS app is not configured">
        <Text>The project profile must set PUBLIC_BASE_URL (the smsflow API address).</Text>
      </ErrorState>
    );
  }
  return (
    <Tabs selected={tab} onSelectedChange={(id: string | number) => setTab(String(id))}>
      <Tab tabId="messages" title="Messages">
        <MessageList api={api} objectType={objectType} objectId={objectId} refresh={refresh} />
      </Tab>
      <Tab tabId="send" title="Send SMS">
        <Composer
          api={api}
          objectType={objectType}
          objectId={objectId}
          onSent={(text) => {
            actions.addAlert({ type: 'success', message: text });
            setRefresh((n) => n + 1);
            setTab('messages');
          }}
        />
      </Tab>
      <Tab tabId="templates" title="Templates">
        <TemplateManager api={api} />
      </Tab>
    </Tabs>
  );
}

function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    return e.code ? `${e.message} (${e.code})` : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

function MessageList(props: { api: Api; objectType: string; objectId: string; refresh: number }) {
  const { api, objectType, objectId, refresh } = props;
  const [messages, setMessages] = useState<CardMessage[] | null>(null);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);

  const load = useCallback(() => {
    setLoading(true);
    setError('');
    api
      .messages(objectType, objectId, 10)
      .then((r) => setMessages(r.messages))
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setLoading(false));
  }, [api, objectType, objectId]);

  useEffect(load, [load, refresh]);

  if (error) {
    return (
      <ErrorState title="The messages cannot be shown">
        <Text>{error}</Text>
        <Button onClick={load}>Try again</Button>
      </ErrorState>
    );
  }
  if (!messages) {
    return <LoadingSpinner label="Loading messages" />;
  }
  if (messages.length === 0) {
    return (
      <EmptyState title="No SMS yet" layout="vertical">
        <Text>Messages sent to this record, from workflows or from this card, appear here.</Text>
      </EmptyState>
    );
  }
  return (
    <Flex direction="column" gap="small">
      <Table bordered={true}>
        <TableHead>
          <TableRow>
            <TableHeader>Date</TableHeader>
            <TableHeader>Status</TableHeader>
            <TableHeader>Message</TableHeader>
            <TableHeader>Parts</TableHeader>
          </TableRow>
        </TableHead>
        <TableBody>
          {messages.map((m) => (
            <TableRow key={m.id}>
              <TableCell>
                <Text>{new Date(m.date).toLocaleString()}</Text>
                <Text variant="microcopy">
                  {m.channel.toUpperCase()} · {m.sender || 'default sender'}
                </Text>
              </TableCell>
              <TableCell>
                <StatusTag variant={statusVariant(m.status)}>{statusLabel(m.status)}</StatusTag>
                {m.errorMessage ? <Text variant="microcopy">{m.errorMessage}</Text> : null}
              </TableCell>
              <TableCell>
                <Text>{m.preview}</Text>
                <Text variant="microcopy">
                  {m.campaign}
                  {m.templateVersion ? ` · template v${m.templateVersion}` : ''}
                </Text>
              </TableCell>
              <TableCell>
                <Text>{m.segments > 0 ? `${m.segments} (${m.encoding})` : '—'}</Text>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <ButtonRow>
        <LoadingButton loading={loading} onClick={load} variant="secondary">
          Refresh
        </LoadingButton>
        <StatisticsLink api={api} campaign={messages[0]?.campaign} />
      </ButtonRow>
    </Flex>
  );
}

/** StatisticsLink asks the API for a signed link to the campaign statistics page, then shows it. */
function StatisticsLink(props: { api: Api; campaign?: string }) {
  const { api, campaign } = props;
  const [url, setUrl] = useState('');
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  if (url) {
    return <Link href={url}>Open the statistics of {campaign || 'the campaigns'}</Link>;
  }
  return (
    <Flex direction="column" gap="extra-small">
      <LoadingButton
        loading={loading}
        variant="secondary"
        onClick={() => {
          setLoading(true);
          setError('');
          api
            .statsLink(campaign)
            .then((r) => setUrl(r.url))
            .catch((e: unknown) => setError(errorText(e)))
            .finally(() => setLoading(false));
        }}
      >
        Campaign statistics
      </LoadingButton>
      {error ? <Text variant="microcopy">{error}</Text> : null}
    </Flex>
  );
}

function Composer(props: { api: Api; objectType: string; objectId: string; onSent: (text: string) => void }) {
  const { api, objectType, objectId, onSent } = props;
  const { properties } = useCrmProperties(RECORD_PROPERTIES);
  const [senders, setSenders] = useState<Sender[]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [loadError, setLoadError] = useState('');

  const [phoneProperty, setPhoneProperty] = useState('');
  const [country, setCountry] = useState('');
  const [sender, setSender] = useState('');
  const [messageType, setMessageType] = useState('marketing');
  const [templateId, setTemplateId] = useState('');
  const [message, setMessage] = useState('');
  const [allowUnicode, setAllowUnicode] = useState(false);
  const [addStop, setAddStop] = useState(false);
  const [unsubscribe, setUnsubscribe] = useState(false);
  const [shorten, setShorten] = useState(false);
  const [campaign, setCampaign] = useState('');
  const [date, setDate] = useState<DateParts | null>(null);
  const [time, setTime] = useState<TimeParts | null>(null);

  // One client id per message composed: a retried send of it is the same message.
  const [clientId, setClientId] = useState(newClientId);
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState('');
  const [preview, setPreview] = useState<PreviewResult | null>(null);
  const [previewError, setPreviewError] = useState('');

  useEffect(() => {
    Promise.all([api.senders(), api.templates()])
      .then(([s, t]) => {
        setSenders(s.senders);
        setTemplates(t.templates);
        const def = s.senders.find((x) => x.default);
        if (def) {
          setSender(def.sender);
        }
      })
      .catch((e: unknown) => setLoadError(errorText(e)));
  }, [api]);

  const phone = (phoneProperty ? properties[phoneProperty] : properties.mobilephone || properties.phone) ?? '';
  const personalized = useMemo(() => personalize(message, properties), [message, properties]);
  const debounced = useDebounce(personalized, 400);
  const sendAt = sendAtISO(date, time);

  useEffect(() => {
    if (!debounced.trim()) {
      setPreview(null);
      return;
    }
    let current = true;
    api
      .preview({
        message: debounced,
        allow_unicode: allowUnicode,
        message_type: messageType,
        add_stop: addStop,
        country: country || undefined,
        phone: phone || undefined,
        at: sendAt || undefined,
      })
      .then((p) => {
        if (current) {
          setPreview(p);
          setPreviewError('');
        }
      })
      .catch((e: unknown) => {
        if (current) {
          setPreview(null);
          setPreviewError(errorText(e));
        }
      });
    return () => {
      current = false;
    };
  }, [api, debounced, allowUnicode, messageType, addStop, country, phone, sendAt]);

  const chooseTemplate = (id: string) => {
    setTemplateId(id);
    const t = templates.find((x) => x.id === id);
    if (t) {
      setMessage(t.body);
    }
  };

  const send = () => {
    setSending(true);
    setSendError('');
    api
      .send({
        clientId,
        objectType,
        objectId,
        templateId: templateId || undefined,
        inputs: {
          phone_property: phoneProperty,
          country,
          sender,
          message_type: messageType,
          message,
          allow_unicode: String(allowUnicode),
          add_stop: String(addStop),
          unsubscribe_url: String(unsubscribe),
          shorten_urls: String(shorten),
          campaign_name: campaign,
          send_at: sendAt,
        },
      })
      .then((r) => {
        setClientId(newClientId());
        setMessage('');
        setTemplateId('');
        onSent(`SMS accepted (${r.campaignName ?? 'campaign'}): it appears in Messages with its status.`);
      })
      .catch((e: unknown) => setSendError(errorText(e)))
      .finally(() => setSending(false));
  };

  const edited = (text: string) => {
    setMessage(text);
    const t = templates.find((x) => x.id === templateId);
    if (t && t.body !== text) {
      setTemplateId(''); // edited: sent as free text
    }
  };

  return (
    <Flex direction="column" gap="small">
      {loadError ? (
        <Alert title="Senders and templates could not be loaded" variant="warning">
          {loadError}
        </Alert>
      ) : null}
      <Flex direction="row" gap="small" wrap="wrap">
        <Select
          label="Phone property"
          name="phone_property"
          value={phoneProperty}
          onChange={(v) => setPhoneProperty(String(v))}
          options={[
            { label: 'Mobile, then phone', value: '' },
            { label: 'Mobile phone number', value: 'mobilephone' },
            { label: 'Phone number', value: 'phone' },
          ]}
        />
        <Input
          label="Country (ISO code)"
          name="country"
          placeholder="FR"
          value={country}
          onChange={(v) => setCountry(v.toUpperCase())}
        />
        <Select
          label="Sender"
          name="sender"
          value={sender}
          onChange={(v) => setSender(String(v))}
          options={[
            { label: 'Account default', value: '' },
            ...senders.map((s) => ({ label: s.default ? `${s.sender} (default)` : s.sender, value: s.sender })),
          ]}
        />
        <Select
          label="Message type"
          name="message_type"
          value={messageType}
          onChange={(v) => setMessageType(String(v))}
          options={[
            { label: 'Marketing', value: 'marketing' },
            { label: 'Transactional', value: 'transactional' },
          ]}
        />
      </Flex>
      <Select
        label="Template"
        name="template"
        value={templateId}
        onChange={(v) => chooseTemplate(String(v))}
        options={[{ label: 'None (free text)', value: '' }, ...templates.map((t) => ({ label: t.name, value: t.id }))]}
      />
      <TextArea
        label="Message"
        name="message"
        value={message}
        rows={5}
        description="Tokens: $prenom, $nom, {{contact.firstname}}, … — {UNSUB_URL} for the unsubscribe link."
        onChange={edited}
      />
      <Counter preview={preview} error={previewError} />
      <Flex direction="row" gap="small" wrap="wrap">
        <Checkbox name="allow_unicode" checked={allowUnicode} onChange={setAllowUnicode}>
          Allow unicode
        </Checkbox>
        <Checkbox name="add_stop" checked={addStop} onChange={setAddStop}>
          Add STOP mention
        </Checkbox>
        <Checkbox name="unsubscribe_url" checked={unsubscribe} onChange={setUnsubscribe}>
          Unsubscribe link
        </Checkbox>
        <Checkbox name="shorten_urls" checked={shorten} onChange={setShorten}>
          Shorten links
        </Checkbox>
      </Flex>
      <Flex direction="row" gap="small" wrap="wrap">
        <Input
          label="Campaign name"
          name="campaign_name"
          placeholder="HUBSPOT_SMS_CRM_YYYY_MM"
          value={campaign}
          onChange={setCampaign}
        />
        <DateInput
          label="Send on (optional)"
          name="send_date"
          value={date ?? undefined}
          onChange={(d) => setDate(d ? { year: d.year, month: d.month, date: d.date } : null)}
        />
        <TimeInput
          label="at"
          name="send_time"
          value={time ?? undefined}
          onChange={(t) => setTime(t ? { hours: t.hours, minutes: t.minutes } : null)}
        />
      </Flex>
      {sendError ? (
        <Alert title="Not sent" variant="error">
          {sendError}
        </Alert>
      ) : null}
      <ButtonRow>
        <LoadingButton variant="primary" loading={sending} disabled={!message.trim()} onClick={send}>
          Send SMS
        </LoadingButton>
      </ButtonRow>
    </Flex>
  );
}

function Counter({ preview, error }: { preview: PreviewResult | null; error: string }) {
  if (error) {
    return <Text variant="microcopy">{error}</Text>;
  }
  if (!preview) {
    return <Text variant="microcopy">0 characters</Text>;
  }
  return (
    <Flex direction="column" gap="extra-small">
      <Text variant="microcopy">
        {preview.units} {preview.encoding === 'UCS2' ? 'UCS-2 units' : 'GSM-7 characters'} · {preview.segments}{' '}
        {preview.segments === 1 ? 'part' : 'parts'} · {preview.remaining} left in this part
        {preview.stop_mention ? ' · STOP mention included' : ''}
      </Text>
      {preview.unicode_chars && preview.unicode_chars.length > 0 ? (
        <Text variant="microcopy">Unicode because of: {preview.unicode_chars.join(' ')}</Text>
      ) : null}
      {preview.replaced && preview.replaced.length > 0 ? (
        <Text variant="microcopy">Replaced: {preview.replaced.map((r) => `${r.from}→${r.to}`).join(' ')}</Text>
      ) : null}
      {preview.held ? (
        <Alert title="Held until the window opens" variant="info">
          {preview.held_reason} ({new Date(preview.send_at).toLocaleString()})
        </Alert>
      ) : null}
      {(preview.violations ?? []).map((v) => (
        <Alert key={v.code} title={v.code} variant={v.action === 'block' ? 'error' : 'warning'}>
          {v.detail}
        </Alert>
      ))}
    </Flex>
  );
}

function TemplateManager({ api }: { api: Api }) {
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [editing, setEditing] = useState<Pick<Template, 'id' | 'name' | 'body' | 'version'> | null>(null);
  const [error, setError] = useState('');
  const [saving, setSaving] = useState(false);

  const load = useCallback(() => {
    api
      .templates()
      .then((r) => setTemplates(r.templates))
      .catch((e: unknown) => setError(errorText(e)));
  }, [api]);
  useEffect(load, [load]);

  const save = () => {
    if (!editing) {
      return;
    }
    setSaving(true);
    setError('');
    const done = editing.id ? api.updateTemplate(editing) : api.createTemplate(editing.name, editing.body);
    done
      .then(() => {
        setEditing(null);
        load();
      })
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setSaving(false));
  };

  const remove = (id: string) => {
    api
      .deleteTemplate(id)
      .then(load)
      .catch((e: unknown) => setError(errorText(e)));
  };

  if (!templates) {
    return error ? <Text>{error}</Text> : <LoadingSpinner label="Loading templates" />;
  }
  return (
    <Flex direction="column" gap="small">
      {error ? (
        <Alert title="Template not saved" variant="error">
          {error}
        </Alert>
      ) : null}
      {editing ? (
        <Flex direction="column" gap="small">
          <Input label="Name" name="template_name" value={editing.name} onChange={(v) => setEditing({ ...editing, name: v })} />
          <TextArea
            label="Text"
            name="template_body"
            rows={5}
            value={editing.body}
            description="$prenom / $nom and HubSpot tokens like {{contact.firstname}}; saving makes a new version."
            onChange={(v) => setEditing({ ...editing, body: v })}
          />
          <ButtonRow>
            <LoadingButton variant="primary" loading={saving} onClick={save}>
              Save
            </LoadingButton>
            <Button variant="secondary" onClick={() => setEditing(null)}>
              Cancel
            </Button>
          </ButtonRow>
          <Divider />
        </Flex>
      ) : (
        <ButtonRow>
          <Button onClick={() => setEditing({ id: '', name: '', body: '', version: 0 })}>New template</Button>
        </ButtonRow>
      )}
      {templates.length === 0 ? (
        <Text>No templates yet.</Text>
      ) : (
        <Table bordered={true}>
          <TableHead>
            <TableRow>
              <TableHeader>Name</TableHeader>
              <TableHeader>Text</TableHeader>
              <TableHeader>Version</TableHeader>
              <TableHeader> </TableHeader>
            </TableRow>
          </TableHead>
          <TableBody>
            {templates.map((t) => (
              <TableRow key={t.id}>
                <TableCell>{t.name}</TableCell>
                <TableCell>{t.body}</TableCell>
                <TableCell>v{t.version}</TableCell>
                <TableCell>
                  <ButtonRow>
                    <Button size="small" onClick={() => setEditing({ id: t.id, name: t.name, body: t.body, version: t.version })}>
                      Edit
                    </Button>
                    <Button size="small" variant="destructive" onClick={() => remove(t.id)}>
                      Delete
                    </Button>
                  </ButtonRow>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Flex>
  );
}
