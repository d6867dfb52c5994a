// Sends one e-mail through the school's SMTP server (nodemailer), as the settings say: host, port,
// TLS (STARTTLS required, implicit TLS, or none for a relay on a closed network), optional sign-in
// and CA, and the sender. No SMTP host: no mailer, and the hub sends nothing.
import fs from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Settings } from '../settings';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export type SendMail = (mail: Mail) => Promise<void>;

export function mailerFrom(settings: Settings): { send: SendMail; close(): void } | null {
  if (!settings.smtpHost) return null;
  const transport: Transporter = nodemailer.createTransport({
    host: settings.smtpHost,
    port: settings.smtpPort,
    secure: settings.smtpTls === 'tls',
    requireTLS: settings.smtpTls === 'starttls',
    ignoreTLS: settings.smtpTls === 'none',
    auth: settings.smtpUser ? { user: settings.smtpUser, pass: settings.smtpPassword ?? '' } : undefined,
    tls: settings.smtpTlsCa ? { ca: fs.readFileSync(settings.smtpTlsCa) } : undefined,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  return {
    send: async (mail) => {
      await transport.sendMail({ from: settings.smtpFrom!, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}
