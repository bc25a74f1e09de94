// The frame page (/ui/frames/<id>): the same view the explore page opens in a dialog.
import { main } from "./dom.js";
import { frameView } from "./frame.js";

const frameId = decodeURIComponent(location.pathname.split("/").pop());
main(`Frame ${frameId.slice(0, 12)}`, frameView(frameId));
