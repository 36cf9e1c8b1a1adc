import type { RequestHandler, Response } from 'express';
import { DomainError } from '../domain/errors';
import { roleSatisfies, type Access } from './roles';
import type { TokenStore } from './tokens';

const REALM = 'device-lifecycle';

/** `Bearer <b64token>`: one scheme (any case), one space, one token, nothing else. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

function unauthenticated(res: Response, message: string, tokenGiven: boolean): DomainError {
  res.setHeader('WWW-Authenticate', tokenGiven ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`);
  return new DomainError(401, 'unauthenticated', message);
}

/**
 * Authenticates every request whose route is not public and checks the role the route needs.
 * Runs before the body is parsed, so a refused request has no effect at all. The caller's name
 * becomes res.locals.actor (`user:<name>`), which the routes record as requestedBy/actor.
 * `accessFor` answers the route's access; a path no route serves still needs a valid token
 * (then 404s), so unauthenticated callers cannot map the API.
 */
export function authenticate(tokens: TokenStore, accessFor: (method: string, path: string) => Access | undefined): RequestHandler {
  return (req, res, next) => {
    const access = accessFor(req.method, req.path);
    if (access === 'public') return next();
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') return next(unauthenticated(res, 'this request needs a bearer token: Authorization: Bearer <token>', false));
    const match = BEARER.exec(header);
    if (!match) return next(unauthenticated(res, 'malformed Authorization header: expected "Bearer <token>"', false));
    const principal = tokens.verify(match[1]!);
    // Unknown and revoked tokens answer alike.
    if (!principal) return next(unauthenticated(res, 'the bearer token is not valid', true));
    res.locals.actor = `user:${principal.name}`;
    res.locals.principal = principal;
    const needed = access ?? 'reader';
    if (!roleSatisfies(principal.role, needed)) {
      return next(
        new DomainError(403, 'forbidden', `${req.method} ${req.path} needs role ${needed}; token ${principal.name} has role ${principal.role}`, {
          requiredRole: needed,
          role: principal.role,
        }),
      );
    }
    next();
  };
}
