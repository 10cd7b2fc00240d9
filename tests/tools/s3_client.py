#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real S3 client (boto3, Debian's python3-boto3) for the tests' checks.

Endpoint and keys from S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
(tests/tools/ceph_s3.sh env prints them); path-style requests.

  s3_client.py mb BUCKET                  create it (fine if it exists)
  s3_client.py public BUCKET              anyone may GET its objects (a bucket policy)
  s3_client.py ls BUCKET [PREFIX]         'key size etag' a line, by key
  s3_client.py get BUCKET KEY FILE
  s3_client.py sync BUCKET PREFIX DIR     every object under PREFIX into DIR
  s3_client.py rm BUCKET PREFIX           every object under PREFIX removed
  s3_client.py uploads BUCKET             open multipart uploads, 'key id' a line
  s3_client.py create-upload BUCKET KEY   a multipart upload with one 5 MiB part,
                                          left open (a crash mid-way); prints its id
"""
import json
import os
import sys

import boto3
from botocore.config import Config


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="default",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def objects(s3, bucket, prefix):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, bucket, args = argv[0], argv[1], argv[2:]
    s3 = client()
    if cmd == "mb":
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    elif cmd == "public":
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    elif cmd == "ls":
        for o in sorted(objects(s3, bucket, args[0] if args else ""), key=lambda o: o["Key"]):
            print(o["Key"], o["Size"], o["ETag"].strip('"'))
    elif cmd == "get":
        s3.download_file(bucket, args[0], args[1])
    elif cmd == "sync":
        prefix, out = args
        for o in objects(s3, bucket, prefix):
            path = os.path.join(out, o["Key"][len(prefix):])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, o["Key"], path)
    elif cmd == "rm":
        keys = [{"Key": o["Key"]} for o in objects(s3, bucket, args[0])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
    elif cmd == "uploads":
        for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            print(u["Key"], u["UploadId"])
    elif cmd == "create-upload":
        key = args[0]
        up = s3.create_multipart_upload(Bucket=bucket, Key=key)
        s3.upload_part(Bucket=bucket, Key=key, PartNumber=1, UploadId=up["UploadId"], Body=b"\0" * (5 << 20))
        print(up["UploadId"])
    else:
        sys.exit(f"s3_client.py: unknown command {cmd}\n{__doc__}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as e:  # a clear message, not a traceback, for the test's log
        sys.exit(f"s3_client.py {' '.join(sys.argv[1:])}: {e}")
