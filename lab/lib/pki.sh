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
