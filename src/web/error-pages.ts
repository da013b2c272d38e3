/**
 * Friendly error pages: every thrown error is translated through the
 * catalog (src/errors.ts) into an HTTP status and shown as a page in the
 * reader's language; details and stack traces go to the log only.
 */
import type { NextFunction, Request, Response } from 'express';
import { httpStatusFor, SiegelError } from '../errors.js';
import type { Logger } from '../log.js';
import { defineMessages, type Lang } from './i18n.js';
import { html } from './html.js';
import { sendPage } from './respond.js';

const text = defineMessages({
  de: {
    notFoundTitle: 'Seite nicht gefunden',
    notFoundText: 'Unter dieser Adresse gibt es keine Seite.',
    badRequestTitle: 'Anfrage nicht verständlich',
    badRequestText: 'Die Anfrage konnte nicht verarbeitet werden. Bitte versuchen Sie es erneut.',
    forbiddenTitle: 'Nicht erlaubt',
    forbiddenText: 'Diese Aktion ist nicht erlaubt.',
    tooLargeTitle: 'Zu groß',
    tooLargeText: 'Die gesendeten Daten sind zu groß.',
    storageTitle: 'Speicher voll',
    storageText: 'Zurzeit ist nicht genug Speicherplatz frei. Bitte versuchen Sie es später erneut.',
    unavailableTitle: 'Vorübergehend nicht verfügbar',
    unavailableText: 'Der Dienst ist gerade nicht verfügbar. Bitte versuchen Sie es in einigen Minuten erneut.',
    internalTitle: 'Ein Fehler ist aufgetreten',
    internalText: 'Bei der Bearbeitung ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut.',
  },
  en: {
    notFoundTitle: 'Page not found',
    notFoundText: 'There is no page at this address.',
    badRequestTitle: 'Request not understood',
    badRequestText: 'The request could not be processed. Please try again.',
    forbiddenTitle: 'Not allowed',
    forbiddenText: 'This action is not allowed.',
    tooLargeTitle: 'Too large',
    tooLargeText: 'The data sent is too large.',
    storageTitle: 'Storage full',
    storageText: 'There is not enough storage space at the moment. Please try again later.',
    unavailableTitle: 'Temporarily unavailable',
    unavailableText: 'The service is not available right now. Please try again in a few minutes.',
    internalTitle: 'An error occurred',
    internalText: 'Something went wrong while processing the request. Please try again later.',
  },
});

function pageFor(httpStatus: number, lang: Lang) {
  const t = text[lang];
  const [title, paragraph] =
    httpStatus === 404 ? [t.notFoundTitle, t.notFoundText]
    : httpStatus === 413 ? [t.tooLargeTitle, t.tooLargeText]
    : httpStatus === 507 ? [t.storageTitle, t.storageText]
    : httpStatus === 401 || httpStatus === 403 ? [t.forbiddenTitle, t.forbiddenText]
    : httpStatus >= 400 && httpStatus < 500 ? [t.badRequestTitle, t.badRequestText]
    : httpStatus === 503 || httpStatus === 502 || httpStatus === 504 ? [t.unavailableTitle, t.unavailableText]
    : [t.internalTitle, t.internalText];
  return { title, body: html`<p>${paragraph}</p>` };
}

export function notFoundHandler(req: Request, res: Response): void {
  sendPage(req, res, 404, (lang) => pageFor(404, lang));
}

/** Errors from the body parsers carry a `type`; map them onto catalog codes. */
function toCatalogError(err: unknown): unknown {
  if (err instanceof SiegelError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large' || type === 'parameters.too.many') return new SiegelError('MESSAGE_TOO_LARGE', 'form too large');
  if (typeof type === 'string' && (type.startsWith('entity.') || type.endsWith('.unsupported') || type === 'request.aborted' || type === 'request.size.invalid')) {
    return new SiegelError('MESSAGE_MALFORMED', `form rejected: ${type}`);
  }
  return err;
}

export function errorHandler(logger: Logger) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toCatalogError(err);
    const httpStatus = httpStatusFor(error);
    if (httpStatus >= 500) {
      logger.error({ code: error instanceof SiegelError ? error.code : 'INTERNAL', err: error }, 'web request failed');
    } else {
      logger.info({ code: error instanceof SiegelError ? error.code : undefined, detail: error instanceof Error ? error.message : undefined }, 'web request refused');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendPage(req, res, httpStatus, (lang) => pageFor(httpStatus, lang));
  };
}
