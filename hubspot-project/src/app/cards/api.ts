// The card's calls to the smsflow API. hubspot.fetch signs each request (X-HubSpot-Signature-v3)
// and adds the account and the user to its URL; the API trusts nothing else.
import { hubspot } from '@hubspot/ui-extensions';

export interface CardMessage {
  id: string;
  channel: string;
  status: string;
  date: string;
  sendAt?: string;
  deliveredAt?: string;
  preview: string;
  segments: number;
  encoding: string;
  campaign: string;
  sender: string;
  errorCode?: string;
  errorMessage?: string;
  templateId?: string;
  templateVersion?: number;
}

export interface Sender {
  sender: string;
  default: boolean;
}

export interface Template {
  id: string;
  name: string;
  body: string;
  version: number;
  updatedBy?: string;
  updatedAt: string;
  tokens: string[];
}

/** The Send SMS action's inputs, by the action's names; every value is sent as a string. */
export type SendInputs = Partial<
  Record<
    | 'phone_property'
    | 'country'
    | 'sender'
    | 'message_type'
    | 'message'
    | 'allow_unicode'
    | 'add_stop'
    | 'unsubscribe_url'
    | 'shorten_urls'
    | 'utm_source'
    | 'utm_medium'
    | 'utm_campaign'
    | 'utm_term'
    | 'utm_content'
    | 'campaign_name'
    | 'send_at',
    string
  >
>;

export interface SendRequest {
  clientId: string;
  objectType: string;
  objectId: string;
  templateId?: string;
  inputs: SendInputs;
}

export interface SendResult {
  messageId: string;
  status: string;
  campaignName?: string;
  errorCode?: string;
  errorMessage?: string;
}

export interface PreviewRequest {
  message: string;
  allow_unicode: boolean;
  message_type: string;
  add_stop: boolean;
  country?: string;
  phone?: string;
  at?: string;
}

export interface PreviewResult {
  encoding: string;
  segments: number;
  units: number;
  unit_capacity: number;
  remaining: number;
  held: boolean;
  held_reason: string;
  send_at: string;
  stop_mention: string;
  violations: { code: string; action: string; detail: string }[] | null;
  replaced: { from: string; to: string }[] | null;
  unicode_chars: string[] | null;
}

/** An answer other than 2xx, with the API's reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

async function call<T>(url: string, method: Method, body?: object): Promise<T> {
  const res = await hubspot.fetch(url, {
    method,
    timeout: 15000,
    ...(body ? { body: body as Record<string, unknown> } : {}),
  });
  const text = await res.text();
  let data: Record<string, unknown> = {};
  if (text) {
    try {
      data = JSON.parse(text) as Record<string, unknown>;
    } catch {
      data = { error: text };
    }
  }
  if (!res.ok) {
    const reason = data.errorMessage ?? data.error_message ?? data.error;
    const code = data.errorCode ?? data.error_code;
    throw new ApiError(
      res.status,
      typeof reason === 'string' ? reason : `HTTP ${res.status}`,
      typeof code === 'string' ? code : undefined,
    );
  }
  return data as T;
}

/** Api is the smsflow API at base (the profile variable PUBLIC_BASE_URL). */
export class Api {
  private readonly base: string;

  constructor(base: string) {
    this.base = base.replace(/\/+$/, '');
  }

  messages(objectType: string, objectId: string, limit = 10): Promise<{ messages: CardMessage[] }> {
    const q = new URLSearchParams({ objectType, objectId, limit: String(limit) });
    return call(`${this.base}/hubspot/card/messages?${q.toString()}`, 'GET');
  }

  send(req: SendRequest): Promise<SendResult> {
    return call(`${this.base}/hubspot/card/messages`, 'POST', req);
  }

  senders(): Promise<{ senders: Sender[] }> {
    return call(`${this.base}/hubspot/card/senders`, 'GET');
  }

  templates(): Promise<{ templates: Template[] }> {
    return call(`${this.base}/hubspot/card/templates`, 'GET');
  }

  createTemplate(name: string, body: string): Promise<Template> {
    return call(`${this.base}/hubspot/card/templates`, 'POST', { name, body });
  }

  updateTemplate(t: Pick<Template, 'id' | 'name' | 'body' | 'version'>): Promise<Template> {
    return call(`${this.base}/hubspot/card/templates/${encodeURIComponent(t.id)}`, 'PUT', {
      name: t.name,
      body: t.body,
      version: t.version,
    });
  }

  deleteTemplate(id: string): Promise<unknown> {
    return call(`${this.base}/hubspot/card/templates/${encodeURIComponent(id)}`, 'DELETE');
  }

  /** statsLink is a signed link (valid an hour) to the portal's campaign statistics page. */
  statsLink(campaign?: string): Promise<{ url: string; expires_at: string }> {
    const q = campaign ? `?${new URLSearchParams({ campaign }).toString()}` : '';
    return call(`${this.base}/v1/stats/link${q}`, 'GET');
  }

  preview(req: PreviewRequest): Promise<PreviewResult> {
    return call(`${this.base}/v1/preview`, 'POST', req);
  }
}

/** newClientId makes the id that makes a send idempotent: one per message composed. */
export function newClientId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) {
    return c.randomUUID();
  }
  let id = '';
  for (let i = 0; i < 32; i++) {
    id += Math.floor(Math.random() * 16).toString(16);
  }
  return id;
}
