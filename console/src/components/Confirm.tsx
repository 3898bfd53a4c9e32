// A confirmation before anything that acts: the question, what will happen, and a clearly named action.
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
} from "@fluentui/react-components";

export function Confirm(props: {
  open: boolean;
  title: string;
  text: string;
  action: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Dialog open={props.open} onOpenChange={(_, data) => !data.open && props.onCancel()}>
      <DialogSurface aria-describedby="confirm-text">
        <DialogBody>
          <DialogTitle>{props.title}</DialogTitle>
          <DialogContent id="confirm-text">{props.text}</DialogContent>
          <DialogActions>
            <Button appearance="secondary" onClick={props.onCancel}>
              Go back
            </Button>
            <Button appearance="primary" onClick={props.onConfirm}>
              {props.action}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
