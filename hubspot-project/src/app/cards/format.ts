// Pure helpers of the card: what the counter previews, the send-at instant, status display.

/** $-tokens of the vendors' manuals, as the server reads them (render.dollarAliases). */
const DOLLAR_ALIASES: Record<string, string> = {
  prenom: 'firstname',
  nom: 'lastname',
  firstname: 'firstname',
  lastname: 'lastname',
  nome: 'firstname',
  apelido: 'lastname',
  societe: 'company',
  company: 'company',
  email: 'email',
  phone: 'phone',
  mobilephone: 'mobilephone',
  city: 'city',
  ville: 'city',
};

/**
 * personalize fills the tokens with the record's values for the live counter only: the server
 * personalizes the message it sends. A token whose value is not known here is kept as typed, so
 * the counter errs on the long side.
 */
export function personalize(text: string, values: Record<string, string | null>): string {
  const known = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  return text
    .replace(/\{\{\s*(?:[a-zA-Z_]+\.)?([a-zA-Z0-9_]+)\s*\}\}/g, (m: string, name: string) => known(name.toLowerCase()) ?? m)
    .replace(/\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (m: string, name: string) => {
      const prop = DOLLAR_ALIASES[name.toLowerCase()];
      return prop ? (known(prop) ?? m) : m;
    });
}

export interface DateParts {
  year: number;
  month: number; // 0 = January
  date: number;
}

export interface TimeParts {
  hours: number;
  minutes: number;
}

/** sendAtISO is the chosen send time in the user's time zone as RFC 3339 (UTC), '' for now. */
export function sendAtISO(date: DateParts | null, time: TimeParts | null): string {
  if (!date) {
    return '';
  }
  const at = new Date(date.year, date.month, date.date, time?.hours ?? 9, time?.minutes ?? 0);
  return Number.isNaN(at.getTime()) ? '' : at.toISOString();
}

const LABELS: Record<string, string> = {
  PENDING: 'Pending',
  SMS_SENT: 'Sent',
  SMS_NOT_SENT: 'Not sent',
  SMS_DELIVERED: 'Delivered',
  SMS_NOT_DELIVERED: 'Not delivered',
  SMS_CLICKED: 'Clicked',
  SMS_UNSUBSCRIBED: 'Unsubscribed',
  SMS_RESPONSE: 'Replied',
};

export function statusLabel(status: string): string {
  return LABELS[status] ?? status;
}

export function statusVariant(status: string): 'danger' | 'warning' | 'info' | 'success' | 'default' {
  if (/NOT_SENT|NOT_DELIVERED/.test(status)) {
    return 'danger';
  }
  if (/UNSUBSCRIBED/.test(status)) {
    return 'warning';
  }
  if (/DELIVERED|CLICKED|RESPONSE|KEY_PRESSED/.test(status)) {
    return 'success';
  }
  if (/SENT/.test(status)) {
    return 'info';
  }
  return 'default';
}
