# deployer's `invoke local` runner for Python: imports the handler, calls it once with the
# event and a Lambda-like context, and writes the outcome as JSON to the result file.
# Arguments: <module> <function name> <work dir holding event.json and context.json>.
import importlib
import json
import os
import sys
import time
import traceback


class LambdaContext:
    """The parts of Lambda's context object a handler reads."""

    def __init__(self, info):
        self._deadline = time.monotonic() + info["timeoutMs"] / 1000.0
        self.aws_request_id = info["awsRequestId"]
        self.function_name = info["functionName"]
        self.function_version = info["functionVersion"]
        self.invoked_function_arn = info["invokedFunctionArn"]
        self.memory_limit_in_mb = int(info["memoryLimitInMB"])
        self.log_group_name = info["logGroupName"]
        self.log_stream_name = info["logStreamName"]
        self.client_context = info.get("clientContext")
        self.identity = None

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_shape(err):
    return {
        "errorType": type(err).__name__,
        "errorMessage": str(err),
        "stackTrace": [line.rstrip() for line in traceback.format_tb(err.__traceback__)],
    }


def main():
    module_name, function_name, work = sys.argv[1:4]
    with open(os.path.join(work, "event.json")) as f:
        event = json.load(f)
    with open(os.path.join(work, "context.json")) as f:
        context = LambdaContext(json.load(f))
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        outcome = {"result": handler(event, context)}
    except Exception as err:  # the handler's failure is the outcome
        outcome = {"error": error_shape(err)}
    sys.stdout.flush()
    try:
        text = json.dumps(outcome)
    except (TypeError, ValueError) as err:
        text = json.dumps({"error": error_shape(err)})
    with open(os.path.join(work, "result.json"), "w") as f:
        f.write(text)


main()
