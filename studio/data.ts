/**
 * Loading what a page shows: `useData` runs a load when its inputs change and answers the data,
 * the error, and a way to load again; a load whose inputs changed meanwhile is discarded.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** A load's state: `data` once loaded, `error` if it failed. */
export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (the data shown stays until the new one arrives). */
  reload: () => void;
}

/** Runs `load` whenever `inputs` change; see Loaded. */
export function useData<T>(load: () => Promise<T>, inputs: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error) =>
        mine === generation.current && setState({ data: undefined, error, loading: false }),
    );
  }, inputs);
  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: true });
    run();
  }, [run]);
  return { ...state, reload: run };
}
