/**
 * The shapes of the delivery layer: a `Delivery` renders a template and hands
 * the message to the sender configured for its channel.
 */
export type Channel = 'email' | 'sms';

/** The templates every locale provides (see templates.ts). */
export type TemplateName = 'verify_email' | 'verify_phone' | 'otp_sign_in' | 'password_reset' | 'passkey_registration_link' | 'organization_invitation';

/** What a template may use. `code` is the secret, and so is `link`, which holds it; everything else is public. */
export interface TemplateParams {
  code: string;
  /** How long the code stays valid, in seconds. */
  ttlSeconds: number;
  /** The link the code is part of (passkey_registration_link, organization_invitation). */
  link?: string;
  /** The organization a message invites to (organization_invitation): public. */
  organizationName?: string;
}

/** A request to deliver a code: what services pass to `services.delivery.send`. */
export interface DeliveryRequest {
  channel: Channel;
  /** An email address, or a phone number in E.164. */
  to: string;
  template: TemplateName;
  params: TemplateParams;
  /** A BCP 47 tag (`de`, `fr-CA`); falls back to its language, then to config.delivery.defaultLocale, then English. */
  locale?: string | null;
}

/** A rendered message, ready for a sender. `subject` is used by email only. */
export interface OutgoingMessage {
  channel: Channel;
  to: string;
  locale: string;
  template: TemplateName;
  subject: string;
  text: string;
  /** For senders that render their own message (the HTTP hook). */
  params: TemplateParams & { productName: string };
}

/** One way of sending (console, SMTP, Twilio, HTTP hook). Throws on failure; the message may hold a secret. */
export interface Sender {
  readonly name: string;
  send(message: OutgoingMessage): Promise<void>;
}

export interface Delivery {
  /**
   * Renders the template and sends it. Throws DeliveryFailedError(channel) when
   * the sender fails; the failure is logged without the code.
   */
  send(request: DeliveryRequest): Promise<void>;
}
