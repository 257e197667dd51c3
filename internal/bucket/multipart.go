package bucket

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PartSize is the size of each part of a multipart upload but the last.
// S3 takes parts of 5 MiB to 5 GiB and at most 10,000 of them: objects up to
// 160 GiB.
const PartSize = 16 << 20

const maxParts = 10000

// PutLarge implements Store: a multipart upload, one part at a time (the
// parallelism is across objects), each part with its SHA-256, which the
// store checks. A failure aborts the upload: nothing is visible and the
// parts are removed (a store that keeps them charges for them until a
// lifecycle rule removes incomplete uploads).
func (b *Bucket) PutLarge(ctx context.Context, key string, r io.Reader, o PutOptions) (err error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:            &b.loc.Bucket,
		Key:               b.key(key),
		ContentType:       o.contentType(),
		CacheControl:      optional(o.CacheControl),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	b.n.part.Add(1)
	up, err := b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return classify(err, key)
	}
	defer func() {
		if err != nil {
			b.n.part.Add(1)
			// Its own context: the push's may be what was cancelled.
			cctx, cancel := Cleanup(ctx)
			defer cancel()
			b.client.AbortMultipartUpload(cctx, &s3.AbortMultipartUploadInput{
				Bucket: &b.loc.Bucket, Key: b.key(key), UploadId: up.UploadId,
			})
		}
	}()
	buf := make([]byte, PartSize)
	var parts []types.CompletedPart
	for n := int32(1); ; n++ {
		m, rerr := io.ReadFull(r, buf)
		if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("%s: %w", key, rerr)
		}
		if m == 0 && n > 1 {
			break
		}
		if n > maxParts {
			return fmt.Errorf("%s: over %d parts of %d bytes", key, maxParts, PartSize)
		}
		sum := sha256.Sum256(buf[:m])
		enc := base64.StdEncoding.EncodeToString(sum[:])
		b.n.part.Add(1)
		out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &b.loc.Bucket, Key: b.key(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(buf[:m]), ContentLength: aws.Int64(int64(m)),
			ChecksumSHA256: aws.String(enc),
		})
		if err != nil {
			return classify(err, key)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumSHA256: aws.String(enc)})
		if m < PartSize {
			break
		}
	}
	done := &s3.CompleteMultipartUploadInput{
		Bucket: &b.loc.Bucket, Key: b.key(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfMatch:         optional(o.IfMatch),
	}
	if o.IfNoneMatch {
		done.IfNoneMatch = aws.String("*")
	}
	b.n.part.Add(1)
	if _, err := b.client.CompleteMultipartUpload(ctx, done); err != nil {
		return classify(err, key)
	}
	return nil
}
