#!/usr/bin/python3
"""A gRPC client nobody here wrote: Debian's python3-grpcio, resolving an xds:///
target through the xDS server named by GRPC_XDS_BOOTSTRAP_CONFIG.

    xds_echo_client.py DESCRIPTOR_SET TARGET PODS

Calls kubegrpc.testing.Echo/Echo on TARGET until PODS distinct pods have answered
(or 600 calls), then prints a JSON object: calls per answering pod, and failures.
The message classes come from the protoc descriptor set of echo.proto.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def main():
    descriptor_set, target, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = descriptor_pb2.FileDescriptorSet.FromString(open(descriptor_set, "rb").read())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    factory = message_factory.MessageFactory(pool)
    request_class = factory.GetPrototype(pool.FindMessageTypeByName("kubegrpc.testing.EchoRequest"))
    response_class = factory.GetPrototype(pool.FindMessageTypeByName("kubegrpc.testing.EchoResponse"))

    counts, failures = {}, []
    with grpc.insecure_channel(target) as channel:
        echo = channel.unary_unary("/kubegrpc.testing.Echo/Echo",
                                   request_serializer=request_class.SerializeToString,
                                   response_deserializer=response_class.FromString)
        for _ in range(600):
            try:
                response = echo(request_class(message="python"), timeout=30, wait_for_ready=True)
            except grpc.RpcError as e:
                failures.append("%s: %s" % (e.code(), e.details()))
                if len(failures) > 5:
                    break
                continue
            counts[response.pod_name] = counts.get(response.pod_name, 0) + 1
            if len(counts) >= want and sum(counts.values()) >= 3 * want:
                break
    print(json.dumps({"calls": counts, "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
