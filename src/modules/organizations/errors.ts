/** Expected failures of organizations, their members, invitations and domains. */
import { PortcullisError } from '../../kernel/errors.js';

/** The change would leave the organization without a member holding the owner permission. */
export class LastOwnerError extends PortcullisError {
  static readonly code = 'LAST_OWNER';
  readonly code = LastOwnerError.code;
  constructor(readonly permission: string) {
    super(`This member is the last one holding ${permission}: give it to another member first.`);
  }
}

/** Role ids that name no role, or a GLOBAL one, where ORGANIZATION roles are expected. */
export class OrganizationRoleRequiredError extends PortcullisError {
  static readonly code = 'ORGANIZATION_ROLE_REQUIRED';
  readonly code = OrganizationRoleRequiredError.code;
  constructor(readonly roleIds: string[]) {
    super('Every role must be an existing ORGANIZATION role.');
  }
}

/** No invitation has this token (it never existed, or its organization was deleted). */
export class InvitationNotFoundError extends PortcullisError {
  static readonly code = 'INVITATION_NOT_FOUND';
  readonly code = InvitationNotFoundError.code;
  constructor() {
    super('No invitation has this token.');
  }
}

export class InvitationExpiredError extends PortcullisError {
  static readonly code = 'INVITATION_EXPIRED';
  readonly code = InvitationExpiredError.code;
  constructor() {
    super('The invitation has expired: ask for a new one.');
  }
}

export class InvitationRevokedError extends PortcullisError {
  static readonly code = 'INVITATION_REVOKED';
  readonly code = InvitationRevokedError.code;
  constructor() {
    super('The invitation was revoked.');
  }
}

export class InvitationAlreadyAcceptedError extends PortcullisError {
  static readonly code = 'INVITATION_ALREADY_ACCEPTED';
  readonly code = InvitationAlreadyAcceptedError.code;
  constructor() {
    super('The invitation was already accepted.');
  }
}

/** The signed-in user's email is not the invitee's. The message never names the invitee's address. */
export class InvitationEmailMismatchError extends PortcullisError {
  static readonly code = 'INVITATION_EMAIL_MISMATCH';
  readonly code = InvitationEmailMismatchError.code;
  constructor() {
    super('This invitation is for another email address: sign in with the address it was sent to.');
  }
}
