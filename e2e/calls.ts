// Call helpers shared by the call specs and the call set-up bench: pages with
// camera and microphone, their peer connections watched, and the call screen.
import type { BrowserContextOptions, Page } from '@playwright/test';
import { expect, newUser, type User } from './fixtures';
import { befriend, join, openFromContacts } from './chat';

export const MEDIA: BrowserContextOptions = { permissions: ['camera', 'microphone'] };

/** When a peer connection's own offer was set, and when it first connected (`Date.now()`). */
export interface PcMarks {
  offer: number;
  connected: number;
}

/**
 * Every RTCPeerConnection the page makes, kept on `window.__pcs` for the assertions,
 * each with its `PcMarks` on `window.__pcMarks` (for the call set-up bench).
 */
export async function watchPeerConnections(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const made: RTCPeerConnection[] = [];
    const marks: { offer: number; connected: number }[] = [];
    const w = window as unknown as { __pcs: RTCPeerConnection[]; __pcMarks: typeof marks };
    w.__pcs = made;
    w.__pcMarks = marks;
    window.RTCPeerConnection = class extends Native {
      private readonly marks = { offer: 0, connected: 0 };
      constructor(config?: RTCConfiguration) {
        super(config);
        made.push(this);
        marks.push(this.marks);
        this.addEventListener('connectionstatechange', () => {
          if (this.connectionState === 'connected' && !this.marks.connected) this.marks.connected = Date.now();
        });
      }
      setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
        const done = super.setLocalDescription(description);
        if (description?.type === 'offer' && !this.marks.offer) {
          void done.then(() => {
            this.marks.offer ||= Date.now();
          });
        }
        return done;
      }
    };
  });
}

/** A page with camera and microphone allowed and its peer connections watched. */
export async function caller(newPage: (o?: BrowserContextOptions) => Promise<Page>, options = MEDIA): Promise<Page> {
  const page = await newPage(options);
  await watchPeerConnections(page);
  return page;
}

export function connectionState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    return pcs.length ? pcs[pcs.length - 1].connectionState : 'none';
  });
}

export interface Inbound {
  framesDecoded: number;
  totalAudioEnergy: number;
  totalSamplesReceived: number;
}

/** The inbound RTP stats of one kind on the page's latest peer connection. */
export function inbound(page: Page, kind: 'audio' | 'video'): Promise<Inbound | null> {
  return page.evaluate(async (kind) => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const pc = pcs[pcs.length - 1];
    if (!pc) return null;
    let found: Inbound | null = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === kind) {
        found = {
          framesDecoded: s.framesDecoded ?? 0,
          totalAudioEnergy: s.totalAudioEnergy ?? 0,
          totalSamplesReceived: s.totalSamplesReceived ?? 0,
        };
      }
    });
    return found;
  }, kind);
}

/** Waits until a counter of the inbound stats grows past what it was. */
export async function expectRising(page: Page, kind: 'audio' | 'video', field: keyof Inbound): Promise<void> {
  await expect.poll(async () => (await inbound(page, kind))?.[field] ?? 0).toBeGreaterThan(0);
  const before = (await inbound(page, kind))![field];
  await expect.poll(async () => (await inbound(page, kind))![field]).toBeGreaterThan(before);
}

export function screen(page: Page) {
  return page.getByTestId('call-screen');
}

export async function expectStage(page: Page, stage: string): Promise<void> {
  await expect(screen(page)).toHaveAttribute('data-stage', stage);
}

/** Two people who are each other's contacts, on pages allowed to use camera and microphone. */
export async function pair(newPage: (o?: BrowserContextOptions) => Promise<Page>) {
  const alice = newUser('Alice');
  const bob = newUser('Bob');
  const a = await caller(newPage);
  const b = await caller(newPage);
  await join(a, alice);
  await join(b, bob);
  await befriend(a, alice, b, bob);
  return { alice, bob, a, b };
}

/** Answers the ringing call (once "Accept" counts presses: see `ui/call.rs`). */
export async function accept(page: Page): Promise<void> {
  const button = page.getByTestId('accept-call');
  await expect(button).toHaveAttribute('data-armed', 'true');
  await button.click();
}

/** Opens the chat with `peer` and starts a call. */
export async function dial(page: Page, peer: User, kind: 'video' | 'voice'): Promise<void> {
  await openFromContacts(page, peer);
  await page.getByTestId(`call-${kind}`).click();
}


/** The candidate types of the page's latest peer connection: the selected pair's, and all local ones. */
export function candidateTypes(page: Page): Promise<{ selected: string[]; local: string[] }> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const stats = await pcs[pcs.length - 1].getStats();
    const byId = new Map<string, Record<string, unknown>>();
    stats.forEach((s) => byId.set(s.id, s));
    const local: string[] = [];
    const selected: string[] = [];
    stats.forEach((s) => {
      if (s.type === 'local-candidate') local.push(s.candidateType);
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = byId.get(s.selectedCandidatePairId)!;
        for (const id of [pair.localCandidateId, pair.remoteCandidateId]) {
          selected.push(String(byId.get(String(id))?.candidateType));
        }
      }
    });
    return { selected, local };
  });
}
