// In-app QR scanner: rear camera through getUserMedia, BarcodeDetector where the browser has it,
// otherwise @paulmillr/qr's decoder (loaded on first use, ~6 KB gzipped). Only a frame that holds
// a Remote Control link is accepted.
import { useEffect, useRef, useState } from 'preact/hooks';
import { parseJoinLink, type JoinLink } from '../core/joinLink';

interface Detector {
  detect(src: CanvasImageSource): Promise<{ rawValue: string }[]>;
}

/** Decode text from a frame: native detector first, JS fallback second. */
async function makeDecoder(): Promise<(video: HTMLVideoElement, canvas: HTMLCanvasElement) => Promise<string | null>> {
  const BD = (window as unknown as { BarcodeDetector?: { new (o: { formats: string[] }): Detector; getSupportedFormats?: () => Promise<string[]> } }).BarcodeDetector;
  if (BD) {
    try {
      const formats = BD.getSupportedFormats ? await BD.getSupportedFormats() : ['qr_code'];
      if (formats.includes('qr_code')) {
        const det = new BD({ formats: ['qr_code'] });
        return async (video) => (await det.detect(video))[0]?.rawValue ?? null;
      }
    } catch {
      /* fall back */
    }
  }
  const { decodeFrame, decodeQR } = await import('../core/qrFrame'); // lazy chunk with the decoder
  let attempt = 0; // each frame is read a quarter turn further (see core/qrFrame.ts)
  return async (video, canvas) => {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return null;
    const scale = Math.min(1, 720 / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) return null;
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return decodeFrame(decodeQR, { width: img.width, height: img.height, data: img.data }, attempt++);
  };
}

export function cameraErrorText(e: unknown): string {
  const name = (e as { name?: string })?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'Camera access was denied. Allow the camera for this site in the browser settings, or paste the link instead.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera was found on this device. Paste the link instead.';
  if (name === 'NotReadableError') return 'The camera is in use by another app. Close it and try again.';
  return 'The camera could not be started. Paste the link instead.';
}

export function Scanner({ onLink, onClose }: { onLink: (link: JoinLink) => void; onClose: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [error, setError] = useState('');
  const [hint, setHint] = useState('Point the camera at the QR code shown by Remote Control on the desktop.');

  useEffect(() => {
    let stream: MediaStream | null = null;
    let stopped = false;
    let timer = 0;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      stream?.getTracks().forEach((t) => t.stop());
    };
    (async () => {
      if (!navigator.mediaDevices?.getUserMedia) {
        setError(window.isSecureContext ? 'This browser has no camera access. Paste the link instead.' : 'The camera needs a secure (https) page. Paste the link instead.');
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
      } catch (e) {
        setError(cameraErrorText(e));
        return;
      }
      if (stopped) return stop();
      const v = video.current!;
      v.srcObject = stream;
      await v.play().catch(() => undefined);
      const decode = await makeDecoder();
      const deadline = Date.now() + 5 * 60_000; // give up after 5 minutes
      const loop = async () => {
        if (stopped) return;
        if (Date.now() > deadline) {
          setError('No QR code found. Try again, or paste the link instead.');
          return stop();
        }
        const text = await decode(v, canvas.current!).catch(() => null);
        if (stopped) return;
        if (text) {
          const link = parseJoinLink(text);
          if (link) {
            stop();
            onLink(link);
            return;
          }
          setHint('That QR code is not a Remote Control pairing link.');
        }
        timer = window.setTimeout(() => void loop(), 200);
      };
      void loop();
    })();
    return stop;
  }, []);

  return (
    <div class="scanner" data-testid="scanner" role="region" aria-label="QR code scanner">
      {error ? (
        <div class="banner danger" role="alert" data-testid="scanner-error">
          {error}
        </div>
      ) : (
        <>
          <div class="viewfinder">
            <video ref={video} muted playsInline autoPlay aria-label="Camera preview" />
            <div class="frame" aria-hidden="true" />
          </div>
          <p class="muted small" aria-live="polite" data-testid="scanner-hint">
            {hint}
          </p>
        </>
      )}
      <canvas ref={canvas} hidden />
      <button class="btn ghost" type="button" onClick={onClose}>
        Close camera
      </button>
    </div>
  );
}
