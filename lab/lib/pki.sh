# RSA-4096 test PKI (a CA and one certificate per gateway), made once into lab/.cache/pki.
# Big keys on purpose: with leftsendcert=always the MI3 / IKE_AUTH message exceeds 1500 bytes.
make_pki() {
    local pki="$LAB/.cache/pki"
    [ -f "$pki/done" ] && return 0
    mkdir -p "$pki"
    (
        cd "$pki" || exit 1
        openssl req -x509 -newkey rsa:4096 -nodes -keyout ca.key -out ca.pem -days 3650 \
            -subj "/CN=ipsec-doctor lab CA" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        for s in sg1 sg2; do
            openssl req -newkey rsa:4096 -nodes -keyout "$s.key" -out "$s.csr" -subj "/CN=$s.example.org" 2>/dev/null
            printf 'subjectAltName=DNS:%s.example.org\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' "$s" > "$s.ext"
            openssl x509 -req -in "$s.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
                -extfile "$s.ext" -out "$s.pem" 2>/dev/null
            openssl pkcs12 -export -in "$s.pem" -inkey "$s.key" -name "$s" -passout pass: -out "$s.p12"
        done
        touch done
    )
}

# Certificates for the certificate faults (made once, next to the base PKI), all for sg1's key:
#   sg1-expired.p12  CN=sg1.example.org, valid 2020-01-01 .. 2021-01-01 (expired), same CA
#   sg1-ca2.p12      CN=sg1.example.org, signed by a second CA (ca2.pem) the peer does not trust
#   sg1-san.p12      CN=sg1.example.org but subjectAltName=DNS:sg1-old.example.org only
make_pki_faults() {
    local pki="$LAB/.cache/pki"
    make_pki
    [ -f "$pki/faults-done" ] && return 0
    (
        cd "$pki" || exit 1
        openssl req -x509 -newkey rsa:4096 -nodes -keyout ca2.key -out ca2.pem -days 3650 \
            -subj "/CN=ipsec-doctor lab other CA" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        printf 'subjectAltName=DNS:sg1-old.example.org\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > sg1-san.ext
        openssl x509 -req -in sg1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile sg1-san.ext -out sg1-san.pem 2>/dev/null
        openssl x509 -req -in sg1.csr -CA ca2.pem -CAkey ca2.key -CAcreateserial -days 3650 \
            -extfile sg1.ext -out sg1-ca2.pem 2>/dev/null
        # expired: `openssl ca` is the only OpenSSL 3.0 command that takes explicit dates
        mkdir -p ca-db && : > ca-db/index.txt && echo 1000 > ca-db/serial
        cat > ca-db/ca.cnf <<EOC
[ ca ]
default_ca = lab
[ lab ]
dir = $pki/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $pki/ca.pem
private_key = $pki/ca.key
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
EOC
        openssl ca -batch -config ca-db/ca.cnf -in sg1.csr -out sg1-expired.pem -notext \
            -startdate 20200101000000Z -enddate 20210101000000Z -extfile sg1.ext 2>/dev/null
        for c in sg1-expired sg1-ca2 sg1-san; do
            openssl pkcs12 -export -in "$c.pem" -inkey sg1.key -name "$c" -passout pass: -out "$c.p12"
        done
        [ -s sg1-expired.p12 ] && [ -s sg1-ca2.p12 ] && [ -s sg1-san.p12 ] && touch faults-done
    )
}
